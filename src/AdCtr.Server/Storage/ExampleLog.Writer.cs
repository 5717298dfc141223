namespace AdCtr.Server.Storage;

public sealed partial class ExampleLog
{
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
            if (!wait.IsCompleted && _unsynced && _policy == FsyncPolicy.Interval && _fault is null)
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
                    SyncOrFault(); // the interval ran out with nothing new queued
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

        if (_fault is null)
        {
            Sync();
        }
    }

    private static long EstimateBytes(AppendRequest request)
    {
        if (request.Batch is not { } batch)
        {
            return RecordHeaderBytes + request.Single.Length;
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
        if (_fault is { } fault)
        {
            FailAll(group, fault);
            return;
        }

        try
        {
            var flushRequested = false;
            foreach (var request in group)
            {
                if (request.FlushOnly)
                {
                    flushRequested = true;
                    continue;
                }

                request.Start = _segmentBase + _segmentWritten + _buffered;
                if (request.Batch is { } batch)
                {
                    for (var i = 0; i < batch.Count; i++)
                    {
                        AppendRecord(batch[i].Span);
                    }
                }
                else
                {
                    AppendRecord(request.Single.Span);
                }

                request.End = _segmentBase + _segmentWritten + _buffered;
            }

            FlushBuffer();
            var syncNow = _policy == FsyncPolicy.Always
                || flushRequested
                || (_policy == FsyncPolicy.Interval && _unsynced && _timeProvider.GetElapsedTime(_lastSyncTimestamp) >= _fsyncInterval);
            if (syncNow)
            {
                Sync();
            }

            var end = _segmentBase + _segmentWritten;
            Volatile.Write(ref _endPosition, end);
            foreach (var request in group)
            {
                if (request.FlushOnly)
                {
                    request.Completion.TrySetResult(new LogRange(new LogPosition(end), new LogPosition(end), 0));
                }
                else
                {
                    var count = request.Batch?.Count ?? 1;
                    request.Completion.TrySetResult(new LogRange(new LogPosition(request.Start), new LogPosition(request.End), count));
                }
            }
        }
        catch (Exception ex)
        {
            // Any failure (I/O or otherwise) faults the log: the file state after a partial write is unknown, and
            // no caller may be left waiting on an append that will never complete.
            _fault = ex;
            FailAll(group, ex);
        }
    }

    private void AppendRecord(ReadOnlySpan<byte> payload)
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
        WriteHeader(destination, payload);
        payload.CopyTo(destination[RecordHeaderBytes..]);
        _buffered += recordBytes;
    }

    private void FlushBuffer()
    {
        if (_buffered == 0)
        {
            return;
        }

        RandomAccess.Write(_segment, _buffer.AsSpan(0, _buffered), _segmentWritten);
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
        var handle = File.OpenHandle(SegmentPath(_directory, newBase), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        DirectorySync.TryFsync(_directory);
        var old = _segment;
        _segment = handle;
        _segmentBase = newBase;
        _segmentWritten = 0;
        Volatile.Write(ref _activeSegmentBase, newBase);
        old.Dispose();
    }

    private void Sync()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        RandomAccess.FlushToDisk(_segment);
        Observer?.Synced(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        _unsynced = false;
        _lastSyncTimestamp = _timeProvider.GetTimestamp();
        Volatile.Write(ref _durablePosition, _segmentBase + _segmentWritten);
        SyncedForTest?.Invoke(_segmentBase + _segmentWritten);
    }

    private void SyncOrFault()
    {
        try
        {
            Sync();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _fault = ex;
        }
    }

    private static void FailAll(List<AppendRequest> group, Exception cause)
    {
        foreach (var request in group)
        {
            request.Completion.TrySetException(new IOException("Append to the example log failed; the log is faulted.", cause));
        }
    }
}
