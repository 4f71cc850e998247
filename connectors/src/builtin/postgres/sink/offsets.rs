//! `exactly.once`: each topic partition's next offset, kept in a table of the sink's own and
//! written in the transaction that writes the partition's rows.
//!
//! The table (`exactly.once.offsets.table`, by default `__kconnect_offsets`) has one row per
//! (connector, topic, partition). A task's `open` creates the rows of the partitions it was
//! given (with a NULL offset when nothing was written yet) and seeks to the offsets they hold.
//! Each write then locks the rows of its partitions (`SELECT … FOR UPDATE`) before writing
//! anything and leaves out records below the offsets it reads: a record is written at most
//! once even when the consumer hands it again (a seek that came late, a task that still runs
//! after its partitions moved elsewhere), and at least once because the offset moves only with
//! the rows.

use std::collections::HashMap;

use tokio_postgres::{GenericClient, Statement};

use crate::record::TopicPartition;

use super::table::{self, TableId};

pub struct OffsetsTable {
    pub id: TableId,
    connector: String,
}

/// The next offset of each partition, as the table says (`None`: nothing written yet).
pub type Stored = HashMap<TopicPartition, Option<i64>>;

fn columns(partitions: &[TopicPartition]) -> (Vec<&str>, Vec<i32>) {
    partitions
        .iter()
        .map(|tp| (tp.topic.as_str(), tp.partition))
        .unzip()
}

impl OffsetsTable {
    pub fn new(id: TableId, connector: &str) -> OffsetsTable {
        OffsetsTable {
            id,
            connector: connector.to_string(),
        }
    }

    /// Creates the table unless it exists (another task may create it at the same time).
    pub async fn ensure(&self, client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
        if table::load(client, &self.id).await?.is_some() {
            return Ok(());
        }
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (connector TEXT NOT NULL, topic TEXT NOT NULL, \
             \"partition\" INT NOT NULL, next_offset BIGINT, \
             PRIMARY KEY (connector, topic, \"partition\"))",
            self.id
        );
        match client.batch_execute(&sql).await {
            Ok(()) => Ok(()),
            // Two tasks creating it at once: one of them loses on the catalog's unique index.
            Err(e) if table::load(client, &self.id).await?.is_some() => {
                tracing::debug!("offsets table created by another task: {e}");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Makes sure each partition has a row and returns what the rows hold.
    pub async fn open(
        &self,
        client: &impl GenericClient,
        partitions: &[TopicPartition],
    ) -> Result<Stored, tokio_postgres::Error> {
        let (topics, parts) = columns(partitions);
        client
            .execute(
                &format!(
                    "INSERT INTO {} (connector, topic, \"partition\", next_offset) \
                     SELECT $1, t, p, NULL FROM UNNEST($2::text[], $3::int4[]) AS v(t, p) \
                     ON CONFLICT DO NOTHING",
                    self.id
                ),
                &[&self.connector, &topics, &parts],
            )
            .await?;
        let rows = client
            .query(&self.select_sql(false), &[&self.connector, &topics, &parts])
            .await?;
        Ok(stored(&rows))
    }

    /// The statement of [`OffsetsTable::lock`], for the writer to prepare once.
    pub fn lock_sql(&self) -> String {
        self.select_sql(true)
    }

    /// Inside the write's transaction: locks the partitions' rows and returns their offsets.
    /// `statement` is [`OffsetsTable::lock_sql`], prepared.
    pub async fn lock(
        &self,
        client: &impl GenericClient,
        statement: &Statement,
        partitions: &[TopicPartition],
    ) -> Result<Stored, tokio_postgres::Error> {
        let (topics, parts) = columns(partitions);
        let rows = client
            .query(statement, &[&self.connector, &topics, &parts])
            .await?;
        Ok(stored(&rows))
    }

    fn select_sql(&self, lock: bool) -> String {
        format!(
            "SELECT topic, \"partition\", next_offset FROM {} WHERE connector = $1 \
             AND (topic, \"partition\") IN (SELECT * FROM UNNEST($2::text[], $3::int4[])){}",
            self.id,
            if lock { " FOR UPDATE" } else { "" }
        )
    }

    /// The statement of [`OffsetsTable::store`], for the writer to prepare once.
    pub fn store_sql(&self) -> String {
        format!(
            "INSERT INTO {} (connector, topic, \"partition\", next_offset) \
             SELECT $1, t, p, o FROM UNNEST($2::text[], $3::int4[], $4::int8[]) \
             AS v(t, p, o) ON CONFLICT (connector, topic, \"partition\") \
             DO UPDATE SET next_offset = EXCLUDED.next_offset",
            self.id
        )
    }

    /// Inside the write's transaction: the partitions' next offsets. `statement` is
    /// [`OffsetsTable::store_sql`], prepared.
    pub async fn store(
        &self,
        client: &impl GenericClient,
        statement: &Statement,
        next: &[(TopicPartition, i64)],
    ) -> Result<(), tokio_postgres::Error> {
        let (topics, parts): (Vec<&str>, Vec<i32>) = next
            .iter()
            .map(|(tp, _)| (tp.topic.as_str(), tp.partition))
            .unzip();
        let offsets: Vec<i64> = next.iter().map(|(_, o)| *o).collect();
        client
            .execute(statement, &[&self.connector, &topics, &parts, &offsets])
            .await?;
        Ok(())
    }
}

fn stored(rows: &[tokio_postgres::Row]) -> Stored {
    rows.iter()
        .map(|r| {
            (
                TopicPartition::new(r.get::<_, String>(0), r.get::<_, i32>(1)),
                r.get::<_, Option<i64>>(2),
            )
        })
        .collect()
}
