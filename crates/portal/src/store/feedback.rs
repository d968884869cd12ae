use sqlx::FromRow;
use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;

use super::{Store, storage_error};
use domain::StorageError;
use domain::feedback::{DailyCount, Feedback, FeedbackFilter, FeedbackRecords, Topic};

#[derive(FromRow)]
struct FeedbackRow {
    id: String,
    submitted_at: i64,
    topic: String,
    rating: i64,
    comments: Option<String>,
    org_code: Option<String>,
}

#[derive(FromRow)]
struct CountRow {
    day: i64,
    topic: String,
    rating: i64,
    n: i64,
}

fn topic(text: &str) -> Result<Topic, StorageError> {
    Topic::parse(text).ok_or_else(|| StorageError::Other(format!("unknown feedback topic {text}")))
}

impl TryFrom<FeedbackRow> for Feedback {
    type Error = StorageError;
    fn try_from(r: FeedbackRow) -> Result<Self, StorageError> {
        Ok(Feedback {
            topic: topic(&r.topic)?,
            id: r.id,
            submitted_at: r.submitted_at,
            rating: r.rating,
            comments: r.comments,
            org_code: r.org_code,
        })
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

/// The WHERE clause of a filter, with numbered placeholders, and the values in their order.
fn conditions(filter: &FeedbackFilter, comments_only: bool) -> (String, Vec<Bind>) {
    let mut clauses: Vec<String> = vec![];
    let mut binds = vec![];
    let mut add = |column: &str, op: &str, value: Bind| {
        binds.push(value);
        clauses.push(format!("{column} {op} ${}", binds.len()));
    };
    if let Some(t) = filter.topic {
        add("topic", "=", Bind::Text(t.as_str().into()));
    }
    if let Some(r) = filter.rating {
        add("rating", "=", Bind::Int(r));
    }
    if let Some(org) = &filter.org_code {
        add("org_code", "=", Bind::Text(org.clone()));
    }
    if let Some(from) = filter.from {
        add("submitted_at", ">=", Bind::Int(from));
    }
    if let Some(until) = filter.until {
        add("submitted_at", "<", Bind::Int(until));
    }
    if comments_only {
        clauses.push("comments IS NOT NULL".into());
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, binds)
}

fn bind_all<'q, O>(
    mut query: QueryAs<'q, sqlx::Any, O, AnyArguments<'q>>,
    binds: Vec<Bind>,
) -> QueryAs<'q, sqlx::Any, O, AnyArguments<'q>> {
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(s),
            Bind::Int(i) => query.bind(i),
        };
    }
    query
}

impl FeedbackRecords for Store {
    async fn insert_feedback(&self, f: &Feedback) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO feedback (id, submitted_at, topic, rating, comments, org_code) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&f.id)
        .bind(f.submitted_at)
        .bind(f.topic.as_str())
        .bind(f.rating)
        .bind(&f.comments)
        .bind(&f.org_code)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn feedback_counts(
        &self,
        filter: &FeedbackFilter,
    ) -> Result<Vec<DailyCount>, StorageError> {
        let (clause, binds) = conditions(filter, false);
        // Times are positive, so integer division is the floor on both databases.
        let sql = format!(
            "SELECT submitted_at / 86400 AS day, topic, rating, COUNT(*) AS n FROM feedback{clause} \
             GROUP BY submitted_at / 86400, topic, rating"
        );
        let rows: Vec<CountRow> = bind_all(sqlx::query_as(&sql), binds)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(DailyCount {
                    day: r.day,
                    topic: topic(&r.topic)?,
                    rating: r.rating,
                    count: r.n,
                })
            })
            .collect()
    }

    async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        comments_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Feedback>, StorageError> {
        let (clause, mut binds) = conditions(filter, comments_only);
        let n = binds.len();
        let sql = format!(
            "SELECT id, submitted_at, topic, rating, comments, org_code FROM feedback{clause} \
             ORDER BY submitted_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        binds.push(Bind::Int(limit));
        binds.push(Bind::Int(offset));
        let rows: Vec<FeedbackRow> = bind_all(sqlx::query_as(&sql), binds)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        rows.into_iter().map(Feedback::try_from).collect()
    }

    async fn count_feedback_comments(&self, filter: &FeedbackFilter) -> Result<i64, StorageError> {
        let (clause, binds) = conditions(filter, true);
        let sql = format!("SELECT COUNT(*) FROM feedback{clause}");
        let (n,): (i64,) = bind_all(sqlx::query_as(&sql), binds)
            .fetch_one(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(n)
    }
}
