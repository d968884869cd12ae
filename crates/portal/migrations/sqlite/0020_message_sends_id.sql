-- Each text or call counted against the hourly limits has an id (issue 18): a send is counted
-- before the provider is asked, in the transaction that checks the limit, and given back by
-- its id alone when the provider fails. Older rows have none and simply age out of the hour.
ALTER TABLE message_sends ADD COLUMN id TEXT;
