using AdCtr.Server.Storage;
using AdCtr.Server.Telemetry;
using Microsoft.Extensions.Options;
using Prometheus;

namespace AdCtr.Server.Durability;

/// <summary>
/// Instruments of the durability layer (example log and snapshots), made with prometheus-net in the server's
/// registry; gauges are read when scraped. Also the example log's <see cref="IExampleLogObserver"/>.
/// </summary>
internal sealed class DurabilityMetrics : IExampleLogObserver
{
    public const string FsyncDurationName = "adctr_log_fsync_duration_seconds";
    public const string LogWrittenName = "adctr_log_written_bytes_total";
    public const string SnapshotAgeName = "adctr_snapshot_age_seconds";
    public const string SnapshotIntervalName = "adctr_snapshot_interval_seconds";

    /// <summary>fsync buckets in seconds: 50 µs (a page-cache-only device) to 2.5 s (a stalled disk); 0.1 s is the alert's threshold.</summary>
    private static readonly double[] FsyncBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private static readonly string[] FaultKinds = ["no_space", "io_error"];
    private static readonly string[] FaultOperations = ["append", "fsync", "probe", "rollback", "snapshot"];

    private static readonly double[] SnapshotBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly TimeProvider _time;
    private readonly Counter _snapshots;
    private readonly Counter _snapshotFailures;
    private readonly Counter _snapshotsRejected;
    private readonly Histogram _snapshotSeconds;
    private readonly Counter _snapshotBytes;
    private readonly Counter _tailTruncations;
    private readonly Counter _tailTruncatedBytes;
    private readonly Counter _corruptions;
    private readonly Counter _replayed;
    private readonly Counter _replayRejected;
    private readonly Histogram _fsync;
    private readonly Counter _written;
    private readonly Counter _storageFaults;
    private readonly Counter.Child[] _faultChildren;
    private long _lastSnapshotTicks;

    public DurabilityMetrics(MetricsRegistry registry, DurableState state, IOptions<DurabilityOptions> options, TimeProvider time)
    {
        _time = time;
        _lastSnapshotTicks = time.GetUtcNow().UtcTicks;
        var f = registry.Factory;
        _snapshots = f.CreateCounter("adctr_snapshots_written_total", "Model snapshots written.");
        _snapshotFailures = f.CreateCounter("adctr_snapshots_failed_total", "Snapshots that failed (scheduled, on demand or at shutdown).");
        _snapshotsRejected = f.CreateCounter("adctr_snapshots_rejected_total", "Snapshots rejected at load (corrupt or incompatible); an older one was tried.");
        _snapshotSeconds = f.CreateHistogram("adctr_snapshot_duration_seconds", "Time to capture and write a snapshot.", new HistogramConfiguration { Buckets = SnapshotBuckets });
        _snapshotBytes = f.CreateCounter("adctr_snapshot_written_bytes_total", "Bytes of snapshots written.");
        _tailTruncations = f.CreateCounter("adctr_log_tail_truncations_total", "Torn or damaged log tails cut off at start-up.");
        _tailTruncatedBytes = f.CreateCounter("adctr_log_tail_truncated_bytes_total", "Bytes cut off torn log tails.");
        _corruptions = f.CreateCounter("adctr_log_corrupt_skipped_bytes_total", "Bytes of damaged log data skipped (SkipCorruptRecords).");
        _replayed = f.CreateCounter("adctr_log_replayed_examples_total", "Examples replayed from the log at start-up or reload.");
        _replayRejected = f.CreateCounter("adctr_log_replay_rejected_records_total", "Log records that could not be replayed.");
        _fsync = f.CreateHistogram(FsyncDurationName, "Duration of one fsync of the example log's active segment.", new HistogramConfiguration { Buckets = FsyncBuckets });
        _written = f.CreateCounter(LogWrittenName, "Bytes written to the example log (records and their headers).");
        _storageFaults = f.CreateCounter("adctr_storage_faults_total", "Failed writes to the data directory, by kind (no_space, io_error) and operation (append, fsync, probe, rollback, snapshot).", ["kind", "operation"]);
        _faultChildren = new Counter.Child[FaultKinds.Length * FaultOperations.Length];
        for (var k = 0; k < FaultKinds.Length; k++)
        {
            for (var o = 0; o < FaultOperations.Length; o++)
            {
                _faultChildren[(k * FaultOperations.Length) + o] = _storageFaults.WithLabels(FaultKinds[k], FaultOperations[o]);
            }
        }

        var writable = f.CreateGauge("adctr_storage_writable", "1 while the example log takes writes, 0 while its last write, fsync or probe failed (or it is not open).");
        var end = f.CreateGauge("adctr_log_end_position_bytes", "Example log end position (bytes ever appended, over all segments).");
        var durable = f.CreateGauge("adctr_log_durable_position_bytes", "Example log position known to be fsynced.");
        var age = f.CreateGauge(SnapshotAgeName, "Seconds since the last snapshot this process wrote (since start-up before the first).");
        f.CreateGauge(SnapshotIntervalName, "Configured interval between scheduled snapshots (AdCtr:Durability:SnapshotInterval).").Set(options.Value.SnapshotInterval.TotalSeconds);
        registry.Registry.AddBeforeCollectCallback(() =>
        {
            var log = state.Log;
            writable.Set(log is { LastError: null } ? 1 : 0);
            end.Set(log?.EndPosition.Value ?? 0);
            durable.Set(log?.DurablePosition.Value ?? 0);
            age.Set(SnapshotAge.TotalSeconds);
        });
    }

    /// <summary>Time since the last snapshot written by this process (since start-up before the first).</summary>
    public TimeSpan SnapshotAge => TimeSpan.FromTicks(Math.Max(0, _time.GetUtcNow().UtcTicks - Interlocked.Read(ref _lastSnapshotTicks)));

    public void SnapshotWritten(long bytes, double seconds)
    {
        _snapshots.Inc();
        _snapshotBytes.Inc(bytes);
        _snapshotSeconds.Observe(seconds);
        Interlocked.Exchange(ref _lastSnapshotTicks, _time.GetUtcNow().UtcTicks);
    }

    public void SnapshotFailed() => _snapshotFailures.Inc();

    public void StorageFault(StorageFaultKind kind, string operation)
    {
        var k = kind == StorageFaultKind.NoSpace ? 0 : 1;
        var o = Array.IndexOf(FaultOperations, operation);
        if (o >= 0)
        {
            _faultChildren[(k * FaultOperations.Length) + o].Inc();
        }
        else
        {
            _storageFaults.WithLabels(FaultKinds[k], operation).Inc();
        }
    }

    public void SnapshotRejected() => _snapshotsRejected.Inc();

    public void TailTruncated(long bytes)
    {
        _tailTruncations.Inc();
        _tailTruncatedBytes.Inc(bytes);
    }

    public void CorruptionSkipped(long bytes) => _corruptions.Inc(bytes);

    public void Replayed(long examples, long rejected)
    {
        _replayed.Inc(examples);
        _replayRejected.Inc(rejected);
    }

    public void Written(long bytes) => _written.Inc(bytes);

    public void Synced(double seconds) => _fsync.Observe(seconds);
}
