using System.Diagnostics.Metrics;
using AdCtr.Server.Storage;

namespace AdCtr.Server.Durability;

/// <summary>Instruments of the durability layer (meter <c>AdCtr.Durability</c>).</summary>
internal sealed class DurabilityMetrics
{
    public const string MeterName = "AdCtr.Durability";

    private static readonly double[] SecondsBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly Counter<long> _snapshots;
    private readonly Counter<long> _snapshotFailures;
    private readonly Counter<long> _snapshotsRejected;
    private readonly Histogram<double> _snapshotSeconds;
    private readonly Counter<long> _snapshotBytes;
    private readonly Counter<long> _tailTruncations;
    private readonly Counter<long> _tailTruncatedBytes;
    private readonly Counter<long> _corruptions;
    private readonly Counter<long> _replayed;
    private readonly Counter<long> _replayRejected;
    private readonly Counter<long> _storageFaults;

    public DurabilityMetrics(IMeterFactory factory, DurableState state)
    {
        var meter = factory.Create(MeterName);
        _snapshots = meter.CreateCounter<long>("adctr.snapshots.written", "{snapshot}", "Model snapshots written");
        _snapshotFailures = meter.CreateCounter<long>("adctr.snapshots.failed", "{snapshot}", "Snapshots that failed (scheduled, on demand or at shutdown)");
        _snapshotsRejected = meter.CreateCounter<long>("adctr.snapshots.rejected", "{snapshot}", "Snapshots rejected at load (corrupt or incompatible); an older one was tried");
        _snapshotSeconds = meter.CreateHistogram("adctr.snapshots.duration", "s", "Time to capture and write a snapshot", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _snapshotBytes = meter.CreateCounter<long>("adctr.snapshots.bytes", "By", "Bytes of snapshots written");
        _tailTruncations = meter.CreateCounter<long>("adctr.log.tail_truncations", "{truncation}", "Torn or damaged log tails cut off at start-up");
        _tailTruncatedBytes = meter.CreateCounter<long>("adctr.log.tail_truncated_bytes", "By", "Bytes cut off torn log tails");
        _corruptions = meter.CreateCounter<long>("adctr.log.corruptions_skipped", "By", "Bytes of damaged log data skipped (SkipCorruptRecords)");
        _replayed = meter.CreateCounter<long>("adctr.log.replayed", "{example}", "Examples replayed from the log at start-up or reload");
        _replayRejected = meter.CreateCounter<long>("adctr.log.replay_rejected", "{record}", "Log records that could not be replayed");
        _storageFaults = meter.CreateCounter<long>("adctr.storage.faults", "{fault}", "Failed writes to the data directory, by kind (no_space, io_error) and operation (append, fsync, probe, rollback, snapshot)");
        meter.CreateObservableGauge("adctr.storage.writable", () => state.Log is { LastError: null } ? 1 : 0, "{bool}", "1 while the example log takes writes, 0 while its last write, fsync or probe failed (or it is not open)");
        meter.CreateObservableGauge("adctr.log.end_position", () => state.Log?.EndPosition.Value ?? 0, "By", "Example log end position (bytes ever appended)");
        meter.CreateObservableGauge("adctr.log.durable_position", () => state.Log?.DurablePosition.Value ?? 0, "By", "Example log position known to be fsynced");
    }

    public void SnapshotWritten(long bytes, double seconds)
    {
        _snapshots.Add(1);
        _snapshotBytes.Add(bytes);
        _snapshotSeconds.Record(seconds);
    }

    public void SnapshotFailed() => _snapshotFailures.Add(1);

    public void StorageFault(StorageFaultKind kind, string operation) =>
        _storageFaults.Add(1, new KeyValuePair<string, object?>("kind", kind == StorageFaultKind.NoSpace ? "no_space" : "io_error"), new KeyValuePair<string, object?>("operation", operation));

    public void SnapshotRejected() => _snapshotsRejected.Add(1);

    public void TailTruncated(long bytes)
    {
        _tailTruncations.Add(1);
        _tailTruncatedBytes.Add(bytes);
    }

    public void CorruptionSkipped(long bytes) => _corruptions.Add(bytes);

    public void Replayed(long examples, long rejected)
    {
        _replayed.Add(examples);
        _replayRejected.Add(rejected);
    }
}
