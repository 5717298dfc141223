using AdCtr.Server.Hosting;
using AdCtr.Server.Storage;

namespace AdCtr.Server.Durability;

/// <summary>The example log as the ingestor's sink: one record per example, appended as one group-committed batch.</summary>
internal sealed class LogExampleSink(DurableState state) : IExampleSink
{
    public async ValueTask AppendAsync(IReadOnlyList<ReadOnlyMemory<byte>> records, CancellationToken ct)
    {
        var log = state.Log ?? throw new ServiceClosingException();
        await log.AppendBatchAsync(records).ConfigureAwait(false);
    }
}

/// <summary>The open example log and snapshot store (set by <see cref="DurabilityService"/> at start).</summary>
internal sealed class DurableState
{
    public ExampleLog? Log { get; set; }

    public SnapshotStore? Snapshots { get; set; }
}
