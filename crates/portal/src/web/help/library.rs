//! The help pages: Markdown files in `crates/portal/help/`, built into the binary and rendered
//! once, with the NHS.UK list classes, and a simple search over them.

use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

/// One help page, ready to show.
pub struct HelpPage {
    pub slug: &'static str,
    /// The page's heading: a question where it reads naturally.
    pub title: String,
    /// One sentence, for the index and search results.
    pub summary: String,
    /// The body (after the heading and summary) as HTML.
    pub html: String,
    /// The whole page as lower-case words, for search.
    text: String,
    pub section: Section,
}

/// The groups of the help index, in the order it shows them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    About,
    SettingUp,
    SigningIn,
    WhenThingsChange,
    Administrators,
    Accessibility,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::About,
        Section::SettingUp,
        Section::SigningIn,
        Section::WhenThingsChange,
        Section::Administrators,
        Section::Accessibility,
    ];

    pub fn heading(self) -> &'static str {
        match self {
            Section::About => "About multi-factor authentication",
            Section::SettingUp => "Setting up a method",
            Section::SigningIn => "Signing in",
            Section::WhenThingsChange => "When things change",
            Section::Administrators => "For local administrators",
            Section::Accessibility => "Accessibility",
        }
    }
}

macro_rules! help_files {
    ($($section:ident: $($slug:literal),+;)+) => {
        &[$($(($slug, Section::$section, include_str!(concat!("../../../help/", $slug, ".md"))),)+)+]
    };
}

/// Every page: its address, its group and its text. A link to a page not listed here is a 404
/// (the tests follow every contextual link).
const FILES: &[(&str, Section, &str)] = help_files! {
    About: "what-is-mfa", "why-do-i-need-mfa", "choosing-a-method";
    SettingUp: "set-up-authenticator-app", "set-up-nhsmal-authenticator", "set-up-text-message",
        "set-up-phone-call", "set-up-security-key", "passkeys";
    SigningIn: "sign-in-authenticator-app", "sign-in-nhsmal-authenticator", "sign-in-text-message",
        "sign-in-phone-call", "sign-in-security-key", "code-not-accepted", "remembered-devices",
        "recovery-codes", "temporary-access-pass", "mail-apps";
    WhenThingsChange: "new-phone", "lost-phone-or-security-key", "forgot-password",
        "unexpected-code";
    Administrators: "admin-reset-mfa", "admin-temporary-access-pass", "admin-sign-in-log",
        "admin-rollout";
    Accessibility: "accessibility-help";
};

static PAGES: LazyLock<Vec<HelpPage>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(slug, section, text)| parse(slug, *section, text))
        .collect()
});

/// Every help page, in the index's order.
pub fn pages() -> &'static [HelpPage] {
    &PAGES
}

/// The page at `/help/{slug}`.
pub fn page(slug: &str) -> Option<&'static HelpPage> {
    PAGES.iter().find(|p| p.slug == slug)
}

/// Splits a file into its heading (line 1, `# …`), summary (the first paragraph) and body.
fn parse(slug: &'static str, section: Section, text: &str) -> HelpPage {
    let mut lines = text.lines();
    let title = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches('#')
        .trim()
        .to_string();
    let rest: Vec<&str> = lines.collect();
    let rest = rest.join("\n");
    let rest = rest.trim_start();
    let (summary, body) = rest.split_once("\n\n").unwrap_or((rest, ""));
    HelpPage {
        slug,
        text: format!("{title}\n{summary}\n{body}").to_lowercase(),
        title,
        summary: summary.trim().to_string(),
        html: to_html(body),
        section,
    }
}

/// CommonMark to HTML with the NHS.UK frontend's list classes (its lists carry no bullets or
/// numbers without them). Raw HTML in a file is shown as text, never passed through.
pub(super) fn to_html(markdown: &str) -> String {
    let events = Parser::new_ext(markdown, Options::empty()).map(|event| match event {
        Event::Start(Tag::List(None)) => {
            Event::Html("<ul class=\"nhsuk-list nhsuk-list--bullet\">".into())
        }
        Event::Start(Tag::List(Some(_))) => {
            Event::Html("<ol class=\"nhsuk-list nhsuk-list--number\">".into())
        }
        Event::End(TagEnd::List(false)) => Event::Html("</ul>".into()),
        Event::End(TagEnd::List(true)) => Event::Html("</ol>".into()),
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// Longest search accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// Words too common to tell pages apart.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "can", "do", "does", "for", "how", "i", "in", "is", "it", "my", "of",
    "on", "or", "the", "to", "what", "when", "why", "with", "you", "your",
];

/// The pages matching a search, best first: every word of the query (ignoring common ones)
/// must appear; a word in the heading counts more than one in the summary, and that more
/// than one in the body.
pub fn search(query: &str) -> Vec<&'static HelpPage> {
    let words: Vec<String> = query
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(w))
        .map(str::to_string)
        .collect();
    if words.is_empty() {
        return vec![];
    }
    let mut scored: Vec<(usize, usize, &HelpPage)> = PAGES
        .iter()
        .enumerate()
        .filter(|(_, p)| words.iter().all(|w| p.text.contains(w.as_str())))
        .map(|(i, p)| {
            let title = p.title.to_lowercase();
            let summary = p.summary.to_lowercase();
            let score = words
                .iter()
                .map(|w| {
                    10 * usize::from(title.contains(w.as_str()))
                        + 4 * usize::from(summary.contains(w.as_str()))
                        + p.text.matches(w.as_str()).count().min(5)
                })
                .sum();
            (score, i, p)
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_a_heading_a_summary_and_a_body() {
        assert_eq!(pages().len(), FILES.len());
        for p in pages() {
            assert!(
                !p.title.is_empty() && !p.title.starts_with('#'),
                "{}",
                p.slug
            );
            assert!(
                !p.summary.is_empty() && !p.summary.contains('\n'),
                "{}",
                p.slug
            );
            assert!(p.html.contains("<p>"), "{}", p.slug);
        }
    }

    #[test]
    fn every_link_between_help_pages_leads_to_a_page() {
        for p in pages() {
            for link in p.html.split("href=\"/help/").skip(1) {
                let slug = link.split(['"', '#']).next().unwrap_or_default();
                assert!(page(slug).is_some(), "{} links to /help/{slug}", p.slug);
            }
        }
    }

    #[test]
    fn lists_carry_the_nhs_classes_and_raw_html_is_shown_as_text() {
        let html = to_html("- one\n- two\n\n1. first\n\n<script>x</script>");
        assert!(html.contains("<ul class=\"nhsuk-list nhsuk-list--bullet\">"));
        assert!(html.contains("<ol class=\"nhsuk-list nhsuk-list--number\">"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn a_search_finds_the_page_people_mean_first() {
        assert_eq!(search("new phone")[0].slug, "new-phone");
        assert_eq!(search("forgot my password")[0].slug, "forgot-password");
        assert_eq!(search("What is MFA?")[0].slug, "what-is-mfa");
        assert!(search("the").is_empty());
        assert!(search("zzzz-nothing").is_empty());
    }
}
