namespace AdCtr.Server.Durability;

/// <summary>
/// Lets ingestion (append to the example log, then learn) run concurrently, and lets a snapshot, a reload or
/// a retrain swap stop it briefly: <see cref="QuiesceAsync"/> makes new entries wait and completes once every
/// entry in flight has left, so the model then holds exactly the examples appended before
/// <see cref="Storage.ExampleLog.EndPosition"/>. One pause at a time; entering costs two interlocked operations.
/// </summary>
internal sealed class IngestionGate
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _pauses = new(1, 1);
    private int _inFlight;
    private bool _paused;
    private bool _closed;
    private TaskCompletionSource? _drained;
    private TaskCompletionSource _resumed = NewSignal();

    /// <summary>Entries in flight (for tests and metrics).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Waits while paused, then counts the caller in. Dispose the result to leave.</summary>
    /// <exception cref="ServiceClosingException">The gate was closed (the server is shutting down).</exception>
    public async ValueTask<Entry> EnterAsync(CancellationToken ct)
    {
        // Bounded: each pass either enters or waits for a resume, and pauses are finite.
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_closed)
                {
                    throw new ServiceClosingException();
                }

                if (!_paused)
                {
                    _inFlight++;
                    return new Entry(this);
                }

                wait = _resumed.Task;
            }

            await wait.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops new entries and waits for those in flight to leave. Dispose the result to resume (or call
    /// <see cref="Pause.Close"/> first to keep ingestion stopped for good, at shutdown).
    /// </summary>
    public async Task<Pause> QuiesceAsync(CancellationToken ct)
    {
        await _pauses.WaitAsync(ct).ConfigureAwait(false);
        Task drained;
        lock (_lock)
        {
            _paused = true;
            if (_inFlight == 0)
            {
                drained = Task.CompletedTask;
            }
            else
            {
                _drained = NewSignal();
                drained = _drained.Task;
            }
        }

        try
        {
            await drained.WaitAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            Resume();
            throw;
        }

        return new Pause(this);
    }

    private void Leave()
    {
        lock (_lock)
        {
            _inFlight--;
            if (_inFlight == 0 && _drained is { } drained)
            {
                _drained = null;
                drained.TrySetResult();
            }
        }
    }

    private void Resume(bool close = false)
    {
        TaskCompletionSource resumed;
        lock (_lock)
        {
            _paused = false;
            _closed |= close;
            _drained = null;
            resumed = _resumed;
            _resumed = NewSignal();
        }

        resumed.TrySetResult();
        _pauses.Release();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>One ingestion in flight; dispose to leave.</summary>
    public readonly struct Entry(IngestionGate gate) : IDisposable
    {
        public void Dispose() => gate?.Leave();
    }

    /// <summary>A pause of ingestion; dispose to resume.</summary>
    public sealed class Pause(IngestionGate gate) : IDisposable
    {
        private int _done;
        private bool _close;

        /// <summary>Keeps ingestion stopped after dispose: later entries throw <see cref="ServiceClosingException"/>.</summary>
        public void Close() => _close = true;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                gate.Resume(_close);
            }
        }
    }
}

/// <summary>Ingestion was refused because the server is shutting down (answered as 503).</summary>
internal sealed class ServiceClosingException() : InvalidOperationException("the server is shutting down and no longer accepts examples");
