using AdCtr.Server.Model;

namespace AdCtr.Server.Hosting;

/// <summary>
/// The one path by which labeled examples reach the model, from <c>/v1/examples</c> and from the joiner:
/// appended to the example log first (when durability is on), then learned. An example is acknowledged only
/// after both.
/// </summary>
internal sealed class ExampleIngestor(CtrEngine engine, IExampleSink? log = null)
{
    public async ValueTask IngestAsync(ExampleBatch batch, IReadOnlyDictionary<ulong, string> campaignIds, IReadOnlyList<ReadOnlyMemory<byte>> lines, CancellationToken ct)
    {
        if (log is not null)
        {
            await log.AppendAsync(lines, ct).ConfigureAwait(false);
        }

        await engine.LearnAsync(batch, campaignIds).ConfigureAwait(false);
    }
}

/// <summary>Durable storage of accepted example lines (the example log).</summary>
internal interface IExampleSink
{
    ValueTask AppendAsync(IReadOnlyList<ReadOnlyMemory<byte>> lines, CancellationToken ct);
}
