using AdCtr.Server.Durability;
using AdCtr.Server.Model;

namespace AdCtr.Server.Hosting;

/// <summary>
/// The one path by which labeled examples reach the model, from <c>/v1/examples</c> and from the joiner:
/// appended to the example log first (when durability is on), then learned. An example is acknowledged only
/// after both. Both steps run inside the <see cref="IngestionGate"/>, so a snapshot that quiesces the gate sees
/// a model holding exactly the examples the log holds.
/// </summary>
/// <para>
/// In a cluster (<paramref name="journal"/> set, <c>AdCtr:Cluster:Provider=PostgreSql</c> with durability) the example
/// log is not used: a batch is acknowledged once its campaigns' journal entries are committed in PostgreSQL
/// (<see cref="CtrEngine.LearnJournaledAsync"/>).
/// </para>
internal sealed class ExampleIngestor(
    CtrEngine engine,
    IExampleSink? log = null,
    IngestionGate? gate = null,
    ServerMetrics? metrics = null,
    Cluster.PostgreSqlJournal? journal = null,
    TimeSpan learnRetry = default)
{
    private readonly Lock _order = new();

    /// <param name="records">One log record per example of <paramref name="batch"/>: the raw NDJSON line of
    /// <c>/v1/examples</c>, or a <see cref="Joiner.JoinedExampleRecord"/> for a joined example.</param>
    public async ValueTask IngestAsync(ExampleBatch batch, IReadOnlyDictionary<ulong, string> campaignIds, IReadOnlyList<ReadOnlyMemory<byte>> records, CancellationToken ct) =>
        _ = await IngestAsync(batch, campaignIds, records, null, ct).ConfigureAwait(false);

    /// <param name="batchKey">The client's idempotency key of the batch (cluster only), or null.</param>
    /// <returns>True when the batch is learned; false (cluster only) when it is durable and acknowledged but some
    /// campaign has not learned it yet (it will at its next call or activation).</returns>
    public async ValueTask<bool> IngestAsync(ExampleBatch batch, IReadOnlyDictionary<ulong, string> campaignIds, IReadOnlyList<ReadOnlyMemory<byte>> records, string? batchKey, CancellationToken ct)
    {
        if (journal is not null)
        {
            var learned = await engine.LearnJournaledAsync(batch, campaignIds, journal, batchKey, learnRetry, ct).ConfigureAwait(false);
            metrics?.ExamplesLearned(batch.Count);
            return learned;
        }

        using var entry = gate is null ? default : await gate.EnterAsync(ct).ConfigureAwait(false);

        // The batch's learn turn is taken together with its place in the log (the append enqueues its records before it
        // returns), so batches are learned in log order and a replay of the log gives the same model (issue 15).
        ValueTask append = default;
        LearnTurn turn;
        lock (_order)
        {
            if (log is not null)
            {
                append = log.AppendAsync(records, ct);
            }

            turn = engine.TakeLearnTurn();
        }

        try
        {
            await append.ConfigureAwait(false);
        }
        catch
        {
            turn.Skip();
            throw;
        }

        await engine.LearnAsync(batch, campaignIds, turn).ConfigureAwait(false);
        metrics?.ExamplesLearned(batch.Count);
        return true;
    }
}

/// <summary>Durable storage of accepted example records (the example log).</summary>
internal interface IExampleSink
{
    /// <summary>Appends the records. Their place in the log is taken before this returns (the ingestor relies on it to
    /// learn batches in log order); the returned task completes once they are durable.</summary>
    ValueTask AppendAsync(IReadOnlyList<ReadOnlyMemory<byte>> records, CancellationToken ct);
}
