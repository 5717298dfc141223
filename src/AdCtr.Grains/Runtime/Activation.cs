using System.Numerics;
using System.Runtime.InteropServices;

namespace AdCtr.Grains.Runtime;

/// <summary>
/// One activation of a grain: its status, its write-turn queue, its in-flight-read counters and its
/// counters. The status protocol (see README.md, "Activation lifecycle"):
/// <list type="bullet">
/// <item>Created -> Activating -> Valid by the drain loop (activation is the drain loop's first job);
/// a failed activation goes back to Created and fails the turns queued so far.</item>
/// <item>Valid or Created -> Deactivating by a collector, which then checks (after a full fence) that no
/// write turn is pending and no read is in flight. Callers announce themselves first (pending count, read
/// counter) and read the status second, so either the caller sees Deactivating and waits on the gate, or the
/// collector sees the caller and reverts (Dekker-style).</item>
/// <item>Deactivating -> Deactivated after OnDeactivateAsync and the state write; the activation is removed
/// from the directory first, so a caller woken by the gate finds no activation and creates a new one, which
/// reads the state just written.</item>
/// </list>
/// </summary>
internal abstract class Activation : IThreadPoolWorkItem
{
    internal const int StatusCreated = 0;
    internal const int StatusActivating = 1;
    internal const int StatusValid = 2;
    internal const int StatusDeactivating = 3;
    internal const int StatusDeactivated = 4;

    private protected readonly TimeProvider _time;
    private readonly ReadSlot[] _readSlots;
    private readonly int _readMask;

    private protected int _status;
    private protected long _pending;
    private protected int _scheduled;
    private protected int _activationRequested;
    private protected TaskCompletionSource _activation = NewCompletionSource();
    private protected long _lastTurnTimestamp;
    private protected bool _dirty;
    private protected long _turns;
    private protected long _failedTurns;
    private int _deactivationRequested;
    private long _readsSeen;
    private long _readsSeenAt;
    private TaskCompletionSource? _gate;

    protected Activation(GrainId grainId, TimeProvider time, int readStripes)
    {
        GrainId = grainId;
        _time = time;
        var stripes = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, readStripes));
        _readSlots = new ReadSlot[stripes];
        _readMask = stripes - 1;
        _lastTurnTimestamp = time.GetTimestamp();
        _readsSeenAt = _lastTurnTimestamp;
    }

    public GrainId GrainId { get; }

    public abstract GrainRuntime Runtime { get; }

    public abstract IGrainStorage Storage { get; }

    internal abstract Grain? GrainInstance { get; }

    internal abstract GrainDirectory DirectoryBase { get; }

    /// <summary>Number of write turns queued or running.</summary>
    public long PendingTurns => Volatile.Read(ref _pending);

    public int Status => Volatile.Read(ref _status);

    /// <summary>Write turns executed by this activation (written by the drain loop only).</summary>
    public long TurnsExecuted => Volatile.Read(ref _turns);

    public long FailedTurns => Volatile.Read(ref _failedTurns);

    /// <summary>Set under the directory's statistics lock when the counters were folded into the directory totals.</summary>
    internal bool Retired { get; set; }

    /// <summary>The task of the current activation attempt (read it before <see cref="RequestActivation"/>).</summary>
    public Task ActivationTask => Volatile.Read(ref _activation).Task;

    internal void MarkClean() => _dirty = false;

    internal void RequestDeactivation() => Volatile.Write(ref _deactivationRequested, 1);

    /// <summary>Announces a read; returns the slot to pass to <see cref="ExitRead"/>.</summary>
    public int EnterRead()
    {
        var slot = _readMask == 0 ? 0 : Thread.GetCurrentProcessorId() & _readMask;
        Interlocked.Increment(ref _readSlots[slot].Entered);
        return slot;
    }

    public void ExitRead(int slot) => Interlocked.Increment(ref _readSlots[slot].Exited);

    /// <summary>Asks the drain loop to activate the grain even if no turn is queued (a waiting reader).</summary>
    public void RequestActivation()
    {
        Volatile.Write(ref _activationRequested, 1);
        ScheduleDrain();
    }

    /// <summary>Starts the drain loop unless it is already scheduled or running.</summary>
    public void ScheduleDrain()
    {
        if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    public abstract void Execute();

    /// <summary>
    /// Completes when the deactivation that made the status Deactivating is decided (reverted or done).
    /// The caller then looks the grain up again.
    /// </summary>
    public ValueTask WaitForDeactivationAsync()
    {
        var gate = Volatile.Read(ref _gate);
        return gate is null ? default : new ValueTask(gate.Task);
    }

    private long ReadsInFlight()
    {
        // Exited first, then Entered: a read that runs between the two sweeps is counted as in flight, which
        // only makes the collector back off.
        long exited = 0;
        for (var i = 0; i < _readSlots.Length; i++)
        {
            exited += Volatile.Read(ref _readSlots[i].Exited);
        }

        long entered = 0;
        for (var i = 0; i < _readSlots.Length; i++)
        {
            entered += Volatile.Read(ref _readSlots[i].Entered);
        }

        return entered - exited;
    }

    /// <summary>
    /// Last use by the collector's reckoning: the end of the last write turn, or the collection pass that
    /// first saw reads newer than the previous pass. Reads do not read the clock (it would cost the hot read
    /// path about as much as the rest of it), so a read-only activation is collected between
    /// <see cref="GrainRuntimeOptions.IdleTimeout"/> and IdleTimeout + CollectionInterval after its last read,
    /// never earlier. Called by the collector only (passes do not overlap).
    /// </summary>
    private long LastUsedTimestamp()
    {
        long entered = 0;
        for (var i = 0; i < _readSlots.Length; i++)
        {
            entered += Volatile.Read(ref _readSlots[i].Entered);
        }

        if (entered != _readsSeen)
        {
            _readsSeen = entered;
            _readsSeenAt = _time.GetTimestamp();
        }

        return Math.Max(Volatile.Read(ref _lastTurnTimestamp), _readsSeenAt);
    }

    /// <summary>Pre-check for the collector (also records new reads); the decision is taken in <see cref="TryDeactivateAsync"/>.</summary>
    public bool LooksIdle(TimeSpan idleTimeout) =>
        Volatile.Read(ref _pending) == 0 && IsIdle(idleTimeout);

    private bool IsIdle(TimeSpan idleTimeout) =>
        Volatile.Read(ref _deactivationRequested) != 0 ||
        _time.GetElapsedTime(LastUsedTimestamp()) >= idleTimeout;

    /// <summary>
    /// Deactivates the activation if it has no pending write turn and no read in flight (and, when
    /// <paramref name="idleTimeout"/> is given, has been idle that long). Returns false when busy. Throws when
    /// the state cannot be written; the activation then stays active.
    /// </summary>
    public async Task<bool> TryDeactivateAsync(DeactivationReason reason, TimeSpan? idleTimeout, CancellationToken cancellationToken)
    {
        var gate = NewCompletionSource();
        if (Interlocked.CompareExchange(ref _gate, gate, null) is not null)
        {
            return false;
        }

        var from = Volatile.Read(ref _status);
        if ((from != StatusValid && from != StatusCreated) ||
            Interlocked.CompareExchange(ref _status, StatusDeactivating, from) != from)
        {
            ReleaseGate(gate);
            return false;
        }

        // The compare-exchange above is a full fence: a caller that announced itself before it is visible
        // now; a caller that announces itself after it reads Deactivating and waits on the gate.
        if (Volatile.Read(ref _pending) != 0 || ReadsInFlight() != 0 ||
            (idleTimeout is { } timeout && !IsIdle(timeout)))
        {
            Volatile.Write(ref _status, from);
            ReleaseGate(gate);
            return false;
        }

        if (from == StatusValid)
        {
            var grain = GrainInstance!;
            try
            {
                await grain.OnDeactivateAsync(reason, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                DirectoryBase.OnDeactivateCallbackFailed(GrainId, e);
            }

            if (_dirty)
            {
                try
                {
                    await grain.WriteStateForDeactivationAsync(cancellationToken).ConfigureAwait(false);
                    _dirty = false;
                }
                catch (Exception e)
                {
                    // The state is not persisted: keep the activation (and its state) alive.
                    DirectoryBase.OnDeactivationFailed(GrainId, e);
                    Volatile.Write(ref _status, from);
                    ReleaseGate(gate);
                    throw;
                }
            }
        }

        DirectoryBase.OnDeactivated(this, wasValid: from == StatusValid);
        Volatile.Write(ref _status, StatusDeactivated);
        // The gate stays set: waiters see Deactivated and look the grain up again.
        gate.TrySetResult();
        return true;
    }

    /// <summary>Runs a deactivation the grain asked for once its turns are done (off the drain loop).</summary>
    private protected async Task DeactivateOnRequestAsync()
    {
        try
        {
            await TryDeactivateAsync(DeactivationReason.Requested, idleTimeout: null, Runtime.StoppingToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Already logged by OnDeactivationFailed; the next collection pass retries.
        }
    }

    private protected bool DeactivationRequested => Volatile.Read(ref _deactivationRequested) != 0;

    private void ReleaseGate(TaskCompletionSource gate)
    {
        Volatile.Write(ref _gate, null);
        gate.TrySetResult();
    }

    private protected static TaskCompletionSource NewCompletionSource() =>
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>One in-flight-read counter pair, alone on its cache lines (128 bytes: adjacent-line prefetch).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct ReadSlot
    {
        [FieldOffset(0)]
        public long Entered;

        [FieldOffset(8)]
        public long Exited;
    }
}

/// <summary>An activation of a grain class: owns the turn queue and the drain loop.</summary>
internal sealed class Activation<TGrain> : Activation
    where TGrain : Grain
{
    private readonly TurnQueue<TGrain> _queue = new();
    private TGrain? _grain;

    public Activation(GrainDirectory<TGrain> directory, GrainKey key)
        : base(new GrainId(directory.GrainType, key), directory.Runtime.TimeProvider, directory.ReadStripes)
    {
        Directory = directory;
    }

    public GrainDirectory<TGrain> Directory { get; }

    public GrainKey Key => GrainId.Key;

    public override GrainRuntime Runtime => Directory.Runtime;

    public override IGrainStorage Storage => Directory.Storage;

    internal override Grain? GrainInstance => _grain;

    internal override GrainDirectory DirectoryBase => Directory;

    /// <summary>The grain; only valid after the status was read as Valid.</summary>
    internal TGrain Grain => _grain!;

    /// <summary>
    /// Announces a write turn. Returns false (and un-announces) when the activation is being deactivated;
    /// the caller then waits on <see cref="Activation.WaitForDeactivationAsync"/> and looks the grain up again.
    /// </summary>
    public bool TryEnqueue(Turn<TGrain> turn)
    {
        Interlocked.Increment(ref _pending);
        if (Volatile.Read(ref _status) >= StatusDeactivating)
        {
            Interlocked.Decrement(ref _pending);
            return false;
        }

        _queue.Enqueue(turn);
        ScheduleDrain();
        return true;
    }

    public override void Execute() => _ = DrainAsync();

    private async Task DrainAsync()
    {
        try
        {
            var budget = Directory.MaxTurnsPerSlice;
            while (true)
            {
                if (_grain is null)
                {
                    var error = await ActivateAsync().ConfigureAwait(false);
                    if (error is not null)
                    {
                        FailQueued(error);
                    }
                }

                if (_grain is { } grain)
                {
                    while (_queue.TryDequeue() is { } turn)
                    {
                        _dirty = true;
                        var execution = turn.ExecuteAsync(grain);
                        var ok = execution.IsCompletedSuccessfully ? execution.Result : await execution.ConfigureAwait(false);
                        _lastTurnTimestamp = _time.GetTimestamp();
                        Volatile.Write(ref _turns, _turns + 1);
                        if (!ok)
                        {
                            Volatile.Write(ref _failedTurns, _failedTurns + 1);
                        }

                        Interlocked.Decrement(ref _pending);
                        turn.Complete(this);
                        if (--budget == 0)
                        {
                            // Give the thread back; _scheduled stays 1, so no second drain loop can start.
                            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                            return;
                        }
                    }
                }

                Volatile.Write(ref _scheduled, 0);
                Interlocked.MemoryBarrier();
                if (!HasWork() || Interlocked.CompareExchange(ref _scheduled, 1, 0) != 0)
                {
                    break;
                }
            }

            if (DeactivationRequested && _grain is not null && Volatile.Read(ref _pending) == 0)
            {
                _ = DeactivateOnRequestAsync();
            }
        }
        catch (Exception e)
        {
            // Turns capture their own exceptions; reaching this is a runtime bug. Keep the process alive.
            Directory.OnDrainLoopFailed(GrainId, e);
            Volatile.Write(ref _scheduled, 0);
        }
    }

    private bool HasWork() =>
        _queue.HasDequeueable() || (_grain is null && Volatile.Read(ref _activationRequested) != 0);

    private async Task<Exception?> ActivateAsync()
    {
        Volatile.Write(ref _activationRequested, 0);
        // A collector may hold the status at Deactivating for the few instructions it needs to see the caller
        // that scheduled this loop and revert; wait that out.
        var spinner = default(SpinWait);
        while (Interlocked.CompareExchange(ref _status, StatusActivating, StatusCreated) != StatusCreated)
        {
            if (Volatile.Read(ref _status) == StatusDeactivated)
            {
                return new InvalidOperationException("The activation of " + GrainId.ToString() + " was removed before it could be activated.");
            }

            spinner.SpinOnce();
        }

        try
        {
            var grain = Directory.CreateGrain(GrainId);
            grain.Bind(this);
            var token = Runtime.StoppingToken;
            await grain.ReadStateForActivationAsync(token).ConfigureAwait(false);
            await grain.OnActivateAsync(token).ConfigureAwait(false);
            _grain = grain;
            _dirty = false;
            _lastTurnTimestamp = _time.GetTimestamp();
            Directory.OnActivated(GrainId);
            Interlocked.Exchange(ref _status, StatusValid);
            _activation.TrySetResult();
            return null;
        }
        catch (Exception e)
        {
            Interlocked.Exchange(ref _status, StatusCreated);
            var failed = _activation;
            Volatile.Write(ref _activation, NewCompletionSource());
            Directory.OnActivationFailed(GrainId, e);
            failed.TrySetException(e);
            return e;
        }
    }

    /// <summary>
    /// Fails the turns that were waiting for the activation that just failed. They are all taken off the queue
    /// before any is failed: failing a turn can run its caller's continuation inline, and a call that caller
    /// makes next is queued behind them and must get a fresh activation attempt (the drain loop comes round
    /// again for it), not this attempt's error. Runs only after a failed activation, so the list is no cost.
    /// </summary>
    private void FailQueued(Exception error)
    {
        var waiting = new List<Turn<TGrain>>();
        while (_queue.TryDequeue() is { } turn)
        {
            waiting.Add(turn);
        }

        foreach (var turn in waiting)
        {
            Volatile.Write(ref _failedTurns, _failedTurns + 1);
            Interlocked.Decrement(ref _pending);
            turn.Fail(this, error);
        }
    }
}
