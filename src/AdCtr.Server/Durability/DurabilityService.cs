using System.Buffers.Binary;
using AdCtr.Learning.Snapshots;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;
using AdCtr.Server.Storage;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.Durability;

/// <summary>A snapshot written: its file, sequence, the log position it includes and the examples in it.</summary>
public sealed record SnapshotWritten(long Sequence, string Path, long Bytes, long LogPosition, long Examples, double Seconds);

/// <summary>A snapshot on disk, as the admin API lists it.</summary>
public sealed record SnapshotListing(long Sequence, string Path, long Bytes, DateTimeOffset LastWriteUtc, long? LogPosition);

/// <summary>What start-up or a reload did.</summary>
public sealed record RecoveryReport(
    long? SnapshotSequence,
    long SnapshotLogPosition,
    IReadOnlyList<string> RejectedSnapshots,
    long ReplayedRecords,
    long ReplayedExamples,
    long RejectedRecords,
    long TruncatedTailBytes,
    IReadOnlyList<string> Corruptions,
    long ExamplesLearned,
    double Seconds);

/// <summary>
/// Owns the data directory while the server runs: at start it opens the example log (cutting a torn tail),
/// loads the newest valid snapshot (falling back to older ones), replays the log after the snapshot's position
/// and only then reports ready; it writes snapshots on a schedule, on demand and at graceful shutdown, applies
/// log retention after each snapshot, and reloads on demand.
/// </summary>
internal sealed partial class DurabilityService : IHostedService, IAsyncDisposable
{
    private readonly CtrEngine _engine;
    private readonly IngestionGate _gate;
    private readonly DurableState _state;
    private readonly ServerReadiness _readiness;
    private readonly StorageOptions _storage;
    private readonly DurabilityOptions _options;
    private readonly TimeProvider _time;
    private readonly DurabilityMetrics _metrics;
    private readonly ILogger<DurabilityService> _logger;
    private readonly SemaphoreSlim _snapshotting = new(1, 1);
    private readonly StorageFileSystem _fileSystem;
    private ITimer? _timer;
    private ITimer? _probeTimer;
    private int _probing;
    private long _lastFaultLogTimestamp;
    private bool _faultLogged;

    public DurabilityService(CtrEngine engine, IngestionGate gate, DurableState state, ServerReadiness readiness, IOptions<StorageOptions> storage, IOptions<DurabilityOptions> options, TimeProvider time, DurabilityMetrics metrics, ILogger<DurabilityService> logger, StorageFileSystem? fileSystem = null)
    {
        _fileSystem = fileSystem ?? StorageFileSystem.Default;
        _engine = engine;
        _gate = gate;
        _state = state;
        _readiness = readiness;
        _storage = storage.Value;
        _options = options.Value;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        readiness.SetNotReady("loading the newest snapshot and replaying the example log");
        readiness.AddCondition(StorageNotReadyReason);
    }

    /// <summary>What the last start-up or reload did.</summary>
    public RecoveryReport? LastRecovery { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        DataDirectory.Check(_storage);
        var log = ExampleLog.Open(_storage, _time, _fileSystem);
        log.FaultObserved = OnStorageFault;
        log.Observer = _metrics;
        _state.Log = log;
        try
        {
            _state.Snapshots = new SnapshotStore(_storage, _fileSystem);
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (log.Recovery.Truncated)
        {
            _metrics.TailTruncated(log.Recovery.TruncatedBytes);
            Log.TailTruncated(_logger, log.Recovery.ActiveSegmentPath, log.Recovery.TruncatedAt.Value, log.Recovery.TruncatedBytes, log.Recovery.Damage.ToString(), log.Recovery.UncommittedRecords);
        }

        try
        {
            using var pause = await _gate.QuiesceAsync(cancellationToken).ConfigureAwait(false);
            LastRecovery = await RecoverAsync(log, log.Recovery.TruncatedBytes, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Start-up fails (the host stops): release the log directory so that a fixed configuration can retry.
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var r = LastRecovery;
        Log.Recovered(_logger, r.SnapshotSequence ?? -1, r.SnapshotLogPosition, r.ReplayedExamples, r.RejectedRecords, r.ExamplesLearned, r.Seconds);
        _readiness.SetReady();
        _timer = _time.CreateTimer(static s => ((DurabilityService)s!).OnTimer(), this, _options.SnapshotInterval, _options.SnapshotInterval);
        _probeTimer = _time.CreateTimer(static s => ((DurabilityService)s!).OnProbeTimer(), this, _options.StorageProbeInterval, _options.StorageProbeInterval);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
            _timer = null;
        }

        if (_probeTimer is not null)
        {
            await _probeTimer.DisposeAsync().ConfigureAwait(false);
            _probeTimer = null;
        }

        if (_state.Log is null)
        {
            return;
        }

        try
        {
            if (_options.SnapshotOnShutdown)
            {
                var written = await SnapshotAsync(closeIngestion: true, cancellationToken).ConfigureAwait(false);
                Log.ShutdownSnapshot(_logger, written.Sequence, written.LogPosition, written.Examples);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Nothing is lost: every acknowledged example is in the log, and the next start loads the newest good
            // snapshot and replays the log after it. Shutdown goes on (a throw here would abort the process).
            Log.ShutdownSnapshotFailed(_logger, StorageFaults.Describe(e), _state.Snapshots?.List() is [var newest, ..] ? newest.Path : "none", e is StorageFaultException ? null : e);
        }
        finally
        {
            await DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The readiness condition: not ready while the example log's last write, fsync or probe failed.</summary>
    private string? StorageNotReadyReason() =>
        _state.Log?.LastError is { } e
            ? "example log unavailable: " + e.Message + "; examples and events are refused (" + (e.Kind == StorageFaultKind.NoSpace ? "507" : "503") +
              ") until a write succeeds (probed every " + _options.StorageProbeInterval.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + " s); predictions are served"
            : null;

    /// <summary>On the log's writer loop: count every fault, log the first and then at most one per probe interval.</summary>
    private void OnStorageFault(StorageFaultException fault)
    {
        _metrics.StorageFault(fault.Kind, fault.Operation);
        var now = _time.GetTimestamp();
        if (!_faultLogged || _time.GetElapsedTime(Volatile.Read(ref _lastFaultLogTimestamp), now) >= _options.StorageProbeInterval)
        {
            Volatile.Write(ref _lastFaultLogTimestamp, now);
            _faultLogged = true;
            Log.StorageFault(_logger, fault.Message);
        }
    }

    private void OnProbeTimer() => _ = ProbeStorageAsync();

    /// <summary>While the log's device fails, checks whether it takes writes again (so readiness returns without traffic).</summary>
    internal async Task ProbeStorageAsync()
    {
        if (_state.Log is not { } log || Interlocked.Exchange(ref _probing, 1) != 0)
        {
            return;
        }

        try
        {
            if (log.LastError is not null)
            {
                await log.ProbeAsync().ConfigureAwait(false);
            }

            if (_faultLogged && log.LastError is null)
            {
                _faultLogged = false;
                Log.StorageRecovered(_logger, log.DirectoryPath);
            }
        }
        catch (Exception e) when (e is StorageFaultException or ObjectDisposedException)
        {
            // Counted and logged by OnStorageFault; the next tick probes again.
        }
        finally
        {
            Volatile.Write(ref _probing, 0);
        }
    }

    public async ValueTask DisposeAsync()
    {
        var log = _state.Log;
        _state.Log = null;
        if (log is not null)
        {
            await log.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes a snapshot now. Ingestion is quiesced only while the model is copied and the log position read,
    /// so the snapshot holds exactly the examples before that position; the file is written after resuming.
    /// </summary>
    public async Task<SnapshotWritten> SnapshotAsync(bool closeIngestion, CancellationToken ct)
    {
        var log = _state.Log ?? throw new ServiceClosingException();
        var store = _state.Snapshots!;
        await _snapshotting.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var started = _time.GetTimestamp();
            ModelSnapshot snapshot;
            using (var pause = await _gate.QuiesceAsync(ct).ConfigureAwait(false))
            {
                snapshot = await ModelCheckpoint.CaptureAsync(_engine, log.EndPosition.Value).ConfigureAwait(false);
                if (closeIngestion)
                {
                    pause.Close();
                }
            }

            var existing = store.List();
            var sequence = existing.Count == 0 ? 1 : existing[0].Sequence + 1;
            SnapshotInfo info;
            try
            {
                info = await store.WriteAsync(sequence, (stream, _) =>
                {
                    SnapshotFormat.Write(stream, snapshot);
                    return Task.CompletedTask;
                }, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _metrics.SnapshotFailed();
                if (e is StorageFaultException fault)
                {
                    _metrics.StorageFault(fault.Kind, fault.Operation);
                }

                throw;
            }

            ApplyRetention(log, store);
            var seconds = _time.GetElapsedTime(started).TotalSeconds;
            _metrics.SnapshotWritten(info.Length, seconds);
            return new SnapshotWritten(info.Sequence, info.Path, info.Length, snapshot.LogPosition, snapshot.Version, seconds);
        }
        finally
        {
            _snapshotting.Release();
        }
    }

    /// <summary>The snapshots on disk, newest first, with the log position each includes (read from its header).</summary>
    public IReadOnlyList<SnapshotListing> ListSnapshots()
    {
        var store = _state.Snapshots ?? throw new ServiceClosingException();
        var result = new List<SnapshotListing>();
        foreach (var s in store.List())
        {
            result.Add(new SnapshotListing(s.Sequence, s.Path, s.Length, s.LastWriteUtc, PeekLogPosition(s.Path)));
        }

        return result;
    }

    /// <summary>Reloads the model from the newest valid snapshot and replays the log after it (ingestion paused meanwhile).</summary>
    public async Task<RecoveryReport> ReloadAsync(CancellationToken ct)
    {
        var log = _state.Log ?? throw new ServiceClosingException();
        await _snapshotting.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var pause = await _gate.QuiesceAsync(ct).ConfigureAwait(false);
            _readiness.SetNotReady("reloading the newest snapshot");
            try
            {
                LastRecovery = await RecoverAsync(log, 0, ct).ConfigureAwait(false);
                return LastRecovery;
            }
            finally
            {
                _readiness.SetReady();
            }
        }
        finally
        {
            _snapshotting.Release();
        }
    }

    /// <summary>Reads the log position a snapshot file includes, without verifying it; null when unreadable.</summary>
    internal static long? PeekLogPosition(string path)
    {
        // Store header (32 bytes), then the model format: magic 8, version 4, hash function 4, seed 4, fingerprint 8.
        const int offset = SnapshotStore.HeaderBytes + 28;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> bytes = stackalloc byte[8];
            file.Position = offset;
            return file.Read(bytes) == 8 ? BinaryPrimitives.ReadInt64LittleEndian(bytes) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private async Task<RecoveryReport> RecoverAsync(ExampleLog log, long truncatedBytes, CancellationToken ct)
    {
        var started = _time.GetTimestamp();
        var store = _state.Snapshots!;
        var loaded = await store.LoadNewestAsync((stream, info, _) =>
        {
            try
            {
                return Task.FromResult(SnapshotFormat.Read(stream, _engine.Spec));
            }
            catch (SnapshotFormatException e)
            {
                throw new InvalidDataException(e.Message, e);
            }
        }, ct).ConfigureAwait(false);
        var rejected = new List<string>();
        foreach (var r in loaded.Rejected)
        {
            rejected.Add(r.Snapshot.Path + ": " + r.Reason);
            _metrics.SnapshotRejected();
            Log.SnapshotRejected(_logger, r.Snapshot.Path, r.Reason);
        }

        LogPosition from;
        if (loaded.Found)
        {
            var snapshot = loaded.Value!;
            if (snapshot.LogPosition > log.EndPosition.Value)
            {
                throw new InvalidOperationException("Snapshot '" + loaded.Snapshot!.Path + "' includes the example log up to position " + snapshot.LogPosition +
                    " but the log in '" + log.DirectoryPath + "' ends at " + log.EndPosition + ": the log lost acknowledged examples (deleted or truncated files). " +
                    "Restore the log, or move the snapshots away to start from the log alone.");
            }

            await ModelCheckpoint.RestoreAsync(_engine, snapshot).ConfigureAwait(false);
            from = new LogPosition(snapshot.LogPosition);
        }
        else
        {
            if (rejected.Count > 0 && !_options.SkipCorruptRecords)
            {
                Log.NoValidSnapshot(_logger, rejected.Count);
            }

            await ModelCheckpoint.RestoreAsync(_engine, EmptySnapshot()).ConfigureAwait(false);
            var segments = log.GetSegments();
            from = segments.Count > 0 ? segments[0].FirstPosition : LogPosition.Zero;
            if (from.Value > 0)
            {
                throw new InvalidOperationException("No valid snapshot, and the example log in '" + log.DirectoryPath + "' starts at position " + from +
                    " (older segments were deleted by retention): the model cannot be rebuilt from the log alone. Restore a snapshot.");
            }
        }

        LogReadReport report;
        try
        {
            var reader = new LogExampleReader(_engine, chunkSize: null); // the batches as acknowledged: the same model, bit for bit
            report = await reader.ReadAsync(log, from, null, _options.SkipCorruptRecords, long.MaxValue, (batch, ids) => _engine.LearnAsync(batch, ids), ct).ConfigureAwait(false);
        }
        catch (LogCorruptionException e)
        {
            throw new InvalidOperationException(e.Message + " Start-up stops here so that no acknowledged example is silently dropped; set AdCtr:Durability:SkipCorruptRecords=true to skip the rest of that segment and start anyway.", e);
        }

        var corruptions = new List<string>();
        foreach (var c in report.Corruptions)
        {
            corruptions.Add(c.ToString());
            _metrics.CorruptionSkipped(c.SkippedBytes);
            Log.CorruptionSkipped(_logger, c.ToString());
        }

        _metrics.Replayed(report.Examples, report.Rejected);
        return new RecoveryReport(
            loaded.Found ? loaded.Snapshot!.Sequence : null,
            from.Value,
            rejected,
            report.Records,
            report.Examples,
            report.Rejected,
            truncatedBytes,
            corruptions,
            _engine.ExamplesLearned,
            _time.GetElapsedTime(started).TotalSeconds);
    }

    private ModelSnapshot EmptySnapshot() => new()
    {
        HashSeed = _engine.Spec.HashSeed,
        SpecFingerprint = _engine.Spec.Fingerprint(),
        Global = new Learning.Ftrl.DenseFtrlModel(_engine.Global.Bits, _engine.Global.Parameters),
        Extensions = new Dictionary<string, byte[]>
        {
            [ModelCheckpoint.CalibratorExtension] = ModelCheckpoint.EncodeCalibrator(Learning.Calibration.IdentityCalibrator.Instance),
        },
    };

    /// <summary>Deletes old log segments, never one holding a byte at or after the oldest kept snapshot's position.</summary>
    private void ApplyRetention(ExampleLog log, SnapshotStore store)
    {
        var keep = store.List();
        if (keep.Count == 0)
        {
            return;
        }

        var protectedPosition = long.MaxValue;
        foreach (var s in keep)
        {
            protectedPosition = Math.Min(protectedPosition, PeekLogPosition(s.Path) ?? 0);
        }

        var result = log.ApplyRetention(new LogPosition(Math.Min(protectedPosition, log.EndPosition.Value)));
        if (result.Deleted.Count > 0)
        {
            Log.RetentionApplied(_logger, result.Deleted.Count, result.DeletedBytes, result.RemainingBytes);
        }
    }

    /// <summary>The last snapshot attempt the timer started (tests await it).</summary>
    internal Task? LastTimerSnapshot { get; private set; }

    private void OnTimer() => LastTimerSnapshot = SnapshotFromTimerAsync();

    private async Task SnapshotFromTimerAsync()
    {
        if (_snapshotting.CurrentCount == 0)
        {
            return; // one is running (on demand or the previous tick)
        }

        try
        {
            var written = await SnapshotAsync(closeIngestion: false, CancellationToken.None).ConfigureAwait(false);
            Log.ScheduledSnapshot(_logger, written.Sequence, written.LogPosition, written.Examples, written.Seconds);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The previous snapshots are untouched (only a temp file was written, and it was removed): retry soon.
            var retry = _options.SnapshotRetryInterval < _options.SnapshotInterval ? _options.SnapshotRetryInterval : _options.SnapshotInterval;
            try
            {
                _timer?.Change(retry, _options.SnapshotInterval);
            }
            catch (ObjectDisposedException)
            {
                // stopping
            }

            Log.SnapshotFailed(_logger, StorageFaults.Describe(e), retry, e is StorageFaultException ? null : e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Example log: cut a damaged or unfinished tail off '{Segment}' at position {Position} ({Bytes} bytes, {Damage}, {Uncommitted} complete records of an unfinished batch); those examples were never acknowledged")]
        public static partial void TailTruncated(ILogger logger, string segment, long position, long bytes, string damage, long uncommitted);

        [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Recovered: snapshot {Sequence} at log position {Position}, replayed {Replayed} examples ({Rejected} records rejected), {Learned} examples in the model, {Seconds:F2} s")]
        public static partial void Recovered(ILogger logger, long sequence, long position, long replayed, long rejected, long learned, double seconds);

        [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Snapshot '{Path}' rejected: {Reason}; trying an older one")]
        public static partial void SnapshotRejected(ILogger logger, string path, string reason);

        [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "No valid snapshot among {Count}; rebuilding the model from the whole example log")]
        public static partial void NoValidSnapshot(ILogger logger, int count);

        [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "Skipped damaged example-log data: {Corruption}")]
        public static partial void CorruptionSkipped(ILogger logger, string corruption);

        [LoggerMessage(EventId = 4006, Level = LogLevel.Information, Message = "Snapshot {Sequence} written at log position {Position} ({Examples} examples, {Seconds:F2} s)")]
        public static partial void ScheduledSnapshot(ILogger logger, long sequence, long position, long examples, double seconds);

        [LoggerMessage(EventId = 4007, Level = LogLevel.Error, Message = "Scheduled snapshot failed: {Cause}; the previous snapshots are kept, retrying in {Retry}")]
        public static partial void SnapshotFailed(ILogger logger, string cause, TimeSpan retry, Exception? exception);

        [LoggerMessage(EventId = 4010, Level = LogLevel.Error, Message = "Shutdown snapshot failed: {Cause}; nothing is lost: the next start loads the newest good snapshot ({Newest}) and replays the example log after it")]
        public static partial void ShutdownSnapshotFailed(ILogger logger, string cause, string newest, Exception? exception);

        [LoggerMessage(EventId = 4011, Level = LogLevel.Error, Message = "Storage fault: {Message}; examples and events are refused until the device takes writes again (readiness reports it)")]
        public static partial void StorageFault(ILogger logger, string message);

        [LoggerMessage(EventId = 4012, Level = LogLevel.Information, Message = "Storage writable again: the example log in '{Directory}' takes writes")]
        public static partial void StorageRecovered(ILogger logger, string directory);

        [LoggerMessage(EventId = 4008, Level = LogLevel.Information, Message = "Shutdown snapshot {Sequence} written at log position {Position} ({Examples} examples)")]
        public static partial void ShutdownSnapshot(ILogger logger, long sequence, long position, long examples);

        [LoggerMessage(EventId = 4009, Level = LogLevel.Information, Message = "Log retention deleted {Count} segments ({Bytes} bytes), {Remaining} bytes remain")]
        public static partial void RetentionApplied(ILogger logger, int count, long bytes, long remaining);
    }
}
