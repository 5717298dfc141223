namespace AdCtr.Server.Storage;

public sealed partial class ExampleLog
{
    private const string ProbeFileName = ".probe";
    private const int MinProbeBytes = 4096;
    private const int MaxProbeBytes = 4 << 20;

    /// <summary>The single writer: drains the queue, writes each group with one write call, fsyncs per policy, completes.</summary>
    private async Task WriterLoopAsync()
    {
        var reader = _channel.Reader;
        var group = new List<AppendRequest>();
        Task<bool>? wait = null;
        // Bounded by the channel: the loop ends when DisposeAsync completes the writer and the queue is drained.
        while (true)
        {
            wait ??= reader.WaitToReadAsync().AsTask();
            if (!wait.IsCompleted && _unsynced && _policy == FsyncPolicy.Interval && _rollbackBase < 0)
            {
                var remaining = _fsyncInterval - _timeProvider.GetElapsedTime(_lastSyncTimestamp);
                if (remaining > TimeSpan.Zero)
                {
                    using var cts = new CancellationTokenSource();
                    var delay = Task.Delay(remaining, _timeProvider, cts.Token);
                    await Task.WhenAny(wait, delay).ConfigureAwait(false);
                    await cts.CancelAsync().ConfigureAwait(false);
                }

                if (!wait.IsCompleted)
                {
                    TrySync(); // the interval ran out with nothing new queued
                }

                continue;
            }

            if (!await wait.ConfigureAwait(false))
            {
                break;
            }

            wait = null;
            group.Clear();
            long queuedBytes = 0;
            while (queuedBytes < WriteBufferBytes && reader.TryRead(out var request))
            {
                group.Add(request);
                queuedBytes += EstimateBytes(request);
            }

            ProcessGroup(group);
        }

        if (_rollbackBase < 0 && _unsynced)
        {
            TrySync(); // at close: a failure is reported through FaultObserved, never thrown out of DisposeAsync
        }
    }

    private static long EstimateBytes(AppendRequest request)
    {
        if (request.Batch is not { } batch)
        {
            return request.Kind == RequestKind.Append ? RecordHeaderBytes + request.Single.Length : 0;
        }

        long bytes = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            bytes += RecordHeaderBytes + batch[i].Length;
        }

        return bytes;
    }

    private void ProcessGroup(List<AppendRequest> group)
    {
        if (_rollbackBase >= 0 && !TryRollBack(_rollbackBase, _rollbackWritten))
        {
            // A failed append could not be undone yet (e.g. ftruncate failed too): nothing may be written after
            // its bytes. Every request fails; the next group tries the rollback again.
            FailAll(group, _lastError!);
            return;
        }

        _rollbackBase = -1;
        RunProbes(group);
        var startBase = _segmentBase;
        var startWritten = _segmentWritten;
        var operation = "append";
        try
        {
            var flushRequested = false;
            var appended = false;
            foreach (var request in group)
            {
                switch (request.Kind)
                {
                    case RequestKind.Flush:
                        flushRequested = true;
                        continue;
                    case RequestKind.Probe:
                        continue;
                }

                appended = true;
                request.Start = _segmentBase + _segmentWritten + _buffered;
                if (request.Batch is { } batch)
                {
                    // Every record but the last says "more of this batch follows": a batch counts only once its
                    // last record is on disk, so an append cut short is never read back in part (see Open).
                    var last = batch.Count - 1;
                    for (var i = 0; i <= last; i++)
                    {
                        AppendRecord(batch[i].Span, continues: i < last);
                    }
                }
                else
                {
                    AppendRecord(request.Single.Span, continues: false);
                }

                request.End = _segmentBase + _segmentWritten + _buffered;
            }

            FlushBuffer();
            var syncNow = (_policy == FsyncPolicy.Always && appended)
                || flushRequested
                || (_policy == FsyncPolicy.Interval && _unsynced && _timeProvider.GetElapsedTime(_lastSyncTimestamp) >= _fsyncInterval);
            if (syncNow)
            {
                operation = "fsync";
                Sync();
            }

            if (appended || (syncNow && _lastError?.Operation == "fsync"))
            {
                _lastError = null; // the device took a write (or the fsync that had failed): it works again
                _lastFailedBytes = appended ? 0 : _lastFailedBytes;
            }

            var end = _segmentBase + _segmentWritten;
            Volatile.Write(ref _endPosition, end);
            foreach (var request in group)
            {
                if (request.Kind == RequestKind.Append)
                {
                    var count = request.Batch?.Count ?? 1;
                    request.Completion.TrySetResult(new LogRange(new LogPosition(request.Start), new LogPosition(request.End), count));
                }
                else if (request.Kind == RequestKind.Flush)
                {
                    request.Completion.TrySetResult(new LogRange(new LogPosition(end), new LogPosition(end), 0));
                }
            }
        }
        catch (Exception ex)
        {
            // Any failure (no space, I/O error, or a bug) fails the whole group and undoes its bytes, so the file
            // ends where the last acknowledged append ended and the next group can be written after it. Should
            // the undo fail, the framing still keeps the unfinished batch out of any replay (Open cuts it off).
            _buffered = 0;
            long attempted = 0;
            foreach (var request in group)
            {
                attempted += EstimateBytes(request);
            }

            _lastFailedBytes = Math.Max(attempted, _lastFailedBytes);
            var failure = Fault(ex, operation, SegmentPath(_directory, _segmentBase));
            _lastError = failure;
            if (!TryRollBack(startBase, startWritten))
            {
                _rollbackBase = startBase;
                _rollbackWritten = startWritten;
            }

            FailAll(group, failure);
            FaultObserved?.Invoke(failure);
        }
    }

    /// <summary>
    /// Cuts the log back to <paramref name="segmentBase"/> + <paramref name="written"/>: deletes segments a failed
    /// group rolled into, reopens the segment it started in and truncates it. False when that failed too.
    /// </summary>
    private bool TryRollBack(long segmentBase, long written)
    {
        try
        {
            if (_segmentBase != segmentBase)
            {
                _segment.Dispose();
                foreach (var (path, first) in ListSegmentFiles(_directory))
                {
                    if (first > segmentBase)
                    {
                        _fs.DeleteFile(path);
                    }
                }

                _segment = _fs.OpenHandle(SegmentPath(_directory, segmentBase), FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
                _segmentBase = segmentBase;
                Volatile.Write(ref _activeSegmentBase, segmentBase);
                DirectorySync.TryFsync(_directory);
            }

            _fs.SetLength(_segment, written);
            _segmentWritten = written;
            var end = segmentBase + written;
            if (Volatile.Read(ref _durablePosition) > end)
            {
                Volatile.Write(ref _durablePosition, end); // a roll inside the failed group had fsynced part of it
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _lastError = Fault(ex, "rollback", SegmentPath(_directory, segmentBase));
            return false;
        }
    }

    private StorageFaultException Fault(Exception ex, string operation, string path)
    {
        var kind = StorageFaults.Classify(ex);
        if (kind == StorageFaultKind.None)
        {
            kind = StorageFaultKind.IoError; // not an I/O exception: still nothing was stored
        }

        var message = kind == StorageFaultKind.NoSpace
            ? "no space left on the device of the example log '" + _directory + "' (" + operation + " of '" + Path.GetFileName(path) + "' failed: " + StorageFaults.Describe(ex) + ")"
            : "the example log '" + _directory + "' could not be written (" + operation + " of '" + Path.GetFileName(path) + "' failed: " + StorageFaults.Describe(ex) + ")";
        return new StorageFaultException(kind, operation, path, message, ex);
    }

    private void AppendRecord(ReadOnlySpan<byte> payload, bool continues)
    {
        var recordBytes = RecordHeaderBytes + payload.Length;
        var segmentLength = _segmentWritten + _buffered;
        if (segmentLength > 0 && segmentLength + recordBytes > _segmentBytes)
        {
            Roll();
        }

        if (_buffered + recordBytes > _buffer.Length)
        {
            FlushBuffer();
            if (recordBytes > _buffer.Length)
            {
                _buffer = new byte[recordBytes];
            }
        }

        var destination = _buffer.AsSpan(_buffered, recordBytes);
        WriteHeader(destination, payload, continues);
        payload.CopyTo(destination[RecordHeaderBytes..]);
        _buffered += recordBytes;
    }

    private void FlushBuffer()
    {
        if (_buffered == 0)
        {
            return;
        }

        _fs.Write(_segment, _buffer.AsSpan(0, _buffered), _segmentWritten);
        Observer?.Written(_buffered);
        _segmentWritten += _buffered;
        _buffered = 0;
        _unsynced = true;
    }

    /// <summary>
    /// Closes the active segment and starts the next. Whatever the policy, the closed segment is fsynced and the
    /// new file's directory entry is fsynced, so only the active segment can ever hold a torn tail (one fsync per
    /// segment, negligible at megabytes per segment).
    /// </summary>
    private void Roll()
    {
        FlushBuffer();
        if (_unsynced)
        {
            Sync();
        }

        var newBase = _segmentBase + _segmentWritten;
        var handle = _fs.OpenHandle(SegmentPath(_directory, newBase), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        var old = _segment;
        _segment = handle;
        _segmentBase = newBase;
        _segmentWritten = 0;
        Volatile.Write(ref _activeSegmentBase, newBase);
        old.Dispose();
        DirectorySync.TryFsync(_directory);
    }

    private void Sync()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        _fs.FlushToDisk(_segment);
        Observer?.Synced(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        _unsynced = false;
        _lastSyncTimestamp = _timeProvider.GetTimestamp();
        Volatile.Write(ref _durablePosition, _segmentBase + _segmentWritten);
        SyncedForTest?.Invoke(_segmentBase + _segmentWritten);
    }

    /// <summary>An fsync outside an append (interval elapsed, close): a failure is reported and retried after another interval.</summary>
    private void TrySync()
    {
        try
        {
            Sync();
            if (_lastError?.Operation == "fsync")
            {
                _lastError = null; // an fsync proves nothing about space for new writes, only that fsyncs work again
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _lastSyncTimestamp = _timeProvider.GetTimestamp();
            var failure = Fault(ex, "fsync", SegmentPath(_directory, _segmentBase));
            _lastError = failure;
            FaultObserved?.Invoke(failure);
        }
    }

    /// <summary>
    /// Checks that the log's device takes writes again: writes <paramref name="bytes"/> (clamped to 4 KiB..4 MiB; the
    /// size of the last group that failed) to <c>.probe</c> in the log directory, fsyncs and deletes it, and fsyncs
    /// the log's own pending writes.
    /// </summary>
    private void Probe(long bytes)
    {
        var size = (int)Math.Clamp(bytes, MinProbeBytes, MaxProbeBytes);
        var path = Path.Combine(_directory, ProbeFileName);
        var zeros = new byte[Math.Min(size, 64 * 1024)];
        try
        {
            using var handle = _fs.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
            for (var offset = 0; offset < size; offset += zeros.Length)
            {
                _fs.Write(handle, zeros.AsSpan(0, Math.Min(zeros.Length, size - offset)), offset);
            }

            _fs.FlushToDisk(handle);
        }
        finally
        {
            try
            {
                _fs.DeleteFile(path);
            }
            catch (IOException)
            {
                // Left behind: overwritten by the next probe, ignored by everything else.
            }
        }

        if (_unsynced)
        {
            Sync();
        }

        _lastFailedBytes = 0;
    }

    /// <summary>Runs the group's probe requests (one probe for all of them) before its appends, so a failed probe fails only them.</summary>
    private void RunProbes(List<AppendRequest> group)
    {
        var any = false;
        foreach (var request in group)
        {
            any |= request.Kind == RequestKind.Probe;
        }

        if (!any)
        {
            return;
        }

        StorageFaultException? failure = null;
        try
        {
            Probe(_lastFailedBytes);
            _lastError = null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            failure = Fault(ex, "probe", Path.Combine(_directory, ProbeFileName));
            _lastError = failure;
            FaultObserved?.Invoke(failure);
        }

        var end = new LogPosition(Volatile.Read(ref _endPosition));
        foreach (var request in group)
        {
            if (request.Kind != RequestKind.Probe)
            {
                continue;
            }

            if (failure is null)
            {
                request.Completion.TrySetResult(new LogRange(end, end, 0));
            }
            else
            {
                request.Completion.TrySetException(new StorageFaultException(failure.Kind, failure.Operation, failure.Path, failure.Message, failure.InnerException));
            }
        }
    }

    private static void FailAll(List<AppendRequest> group, StorageFaultException cause)
    {
        foreach (var request in group)
        {
            // A fresh exception per request: awaiting callers on other threads must not share one stack trace.
            request.Completion.TrySetException(new StorageFaultException(cause.Kind, cause.Operation, cause.Path, cause.Message, cause.InnerException));
        }
    }
}
