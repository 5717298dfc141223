-- AdCtr's durable store in a cluster (AdCtr:Cluster:Provider=PostgreSql), created by the server at every start beside
-- Orleans' membership tables, idempotently (IF NOT EXISTS), in the same transaction under the same advisory lock.

-- The example journal: one row per campaign per acknowledged batch, holding that campaign's rows of the batch encoded
-- (CampaignJournalCodec). Positions count examples per campaign from 1: the entry holds first_seq .. first_seq + n - 1.
-- A campaign grain learns its entries in first_seq order; entries covered by the campaign's checkpoint are deleted.
CREATE TABLE IF NOT EXISTS adctr_journal
(
    campaign text NOT NULL,
    first_seq bigint NOT NULL,
    n integer NOT NULL,
    payload bytea NOT NULL,
    CONSTRAINT adctr_journal_pk PRIMARY KEY (campaign, first_seq)
);

-- The last journal position given out per campaign. A batch's statement bumps the rows of its campaigns (in campaign
-- order, so two batches cannot deadlock on them); the row lock orders the batches of one campaign, so positions follow
-- commit order and an entry is visible before any entry after it.
CREATE TABLE IF NOT EXISTS adctr_journal_head
(
    campaign text NOT NULL,
    last_seq bigint NOT NULL,
    CONSTRAINT adctr_journal_head_pk PRIMARY KEY (campaign)
);

-- Keys of the batches already journaled (the client's Idempotency-Key header): a batch sent again after a lost answer
-- is journaled once.
CREATE TABLE IF NOT EXISTS adctr_ingest_batch
(
    batch_key text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT adctr_ingest_batch_pk PRIMARY KEY (batch_key)
);

-- Campaign checkpoints (the campaign grains' Orleans grain storage): the compact state (CampaignStateCodec) and the
-- journal position it holds.
CREATE TABLE IF NOT EXISTS adctr_campaign_state
(
    campaign text NOT NULL,
    seq bigint NOT NULL,
    state bytea NOT NULL,
    updated timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT adctr_campaign_state_pk PRIMARY KEY (campaign)
);
