-- One row the writer updates at synchronous=FULL to make earlier lazy
-- commits durable when no durable write comes along (store.makeDurable).
CREATE TABLE durable_mark (n INTEGER NOT NULL);
INSERT INTO durable_mark (n) VALUES (0);
