-- What a consumer did with a message, in a line, where the events it published do not
-- say it (a compensation, say: stock returned, a request for a given-up checkout that
-- reserved nothing). Written by the handler in the message's own transaction
-- (`Item::note`), so it rolls back with it; read by the saga's timeline, which then
-- needs no service's private tables. NULL for most messages.
ALTER TABLE processed_messages ADD COLUMN note TEXT;
