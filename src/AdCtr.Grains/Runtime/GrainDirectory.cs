using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace AdCtr.Grains.Runtime;

/// <summary>The activations of one grain type, with that type's counters.</summary>
internal abstract class GrainDirectory
{
    private readonly Lock _statisticsLock = new();
    private long _activationCount;
    private long _activationsCreated;
    private long _activationFailures;
    private long _deactivations;
    private long _deactivationFailures;
    private long _retiredTurns;
    private long _retiredFailedTurns;

    protected GrainDirectory(GrainRuntime runtime, string grainType, IGrainStorage storage, int readStripes)
    {
        Runtime = runtime;
        GrainType = grainType;
        Storage = storage;
        ReadStripes = readStripes;
        MaxTurnsPerSlice = runtime.Options.MaxTurnsPerSlice;
        TypeTag = [new(GrainRuntimeMetrics.GrainTypeTag, grainType)];
    }

    /// <summary>The precomputed metric tag of this grain type.</summary>
    public KeyValuePair<string, object?>[] TypeTag { get; }

    public GrainRuntime Runtime { get; }

    public string GrainType { get; }

    public IGrainStorage Storage { get; }

    public int ReadStripes { get; }

    public int MaxTurnsPerSlice { get; }

    /// <summary>Number of entries (any status).</summary>
    public abstract int Count { get; }

    public abstract void CopyActivationsTo(List<Activation> destination);

    private protected abstract bool Remove(Activation activation);

    private protected abstract IEnumerable<Activation> Activations { get; }

    private ILogger Logger => Runtime.Logger;

    internal void OnActivated(GrainId grainId)
    {
        Interlocked.Increment(ref _activationCount);
        Interlocked.Increment(ref _activationsCreated);
        GrainRuntimeLog.Activated(Logger, grainId);
    }

    internal void OnActivationFailed(GrainId grainId, Exception exception)
    {
        Interlocked.Increment(ref _activationFailures);
        GrainRuntimeLog.ActivationFailed(Logger, exception, grainId);
    }

    internal void OnDeactivated(Activation activation, bool wasValid)
    {
        lock (_statisticsLock)
        {
            Remove(activation);
            _retiredTurns += activation.TurnsExecuted;
            _retiredFailedTurns += activation.FailedTurns;
            activation.Retired = true;
            if (wasValid)
            {
                _activationCount--;
                _deactivations++;
            }
        }

        if (wasValid)
        {
            GrainRuntimeLog.Deactivated(Logger, activation.GrainId);
        }
    }

    internal void OnDeactivationFailed(GrainId grainId, Exception exception)
    {
        Interlocked.Increment(ref _deactivationFailures);
        GrainRuntimeLog.DeactivationFailed(Logger, exception, grainId);
    }

    internal void OnDeactivateCallbackFailed(GrainId grainId, Exception exception) =>
        GrainRuntimeLog.OnDeactivateFailed(Logger, exception, grainId);

    internal void ReportPostFailure(GrainId grainId, Exception exception) =>
        GrainRuntimeLog.PostTurnFailed(Logger, exception, grainId);

    internal void OnDrainLoopFailed(GrainId grainId, Exception exception) =>
        GrainRuntimeLog.DrainLoopFailed(Logger, exception, grainId);

    /// <summary>Exact counters of this grain type (live activations summed under the statistics lock).</summary>
    public GrainRuntimeStatistics GetStatistics()
    {
        lock (_statisticsLock)
        {
            long turns = _retiredTurns, failed = _retiredFailedTurns, queued = 0, maxQueued = 0;
            foreach (var activation in Activations)
            {
                if (activation.Retired)
                {
                    continue;
                }

                turns += activation.TurnsExecuted;
                failed += activation.FailedTurns;
                var pending = activation.PendingTurns;
                queued += pending;
                maxQueued = Math.Max(maxQueued, pending);
            }

            return new GrainRuntimeStatistics(
                ActivationCount: Volatile.Read(ref _activationCount),
                ActivationsCreated: Volatile.Read(ref _activationsCreated),
                ActivationFailures: Volatile.Read(ref _activationFailures),
                Deactivations: _deactivations,
                DeactivationFailures: Volatile.Read(ref _deactivationFailures),
                TurnsExecuted: turns,
                FailedTurns: failed,
                QueueLength: queued,
                MaxQueueLength: maxQueued);
        }
    }
}

/// <summary>The activations of grain class <typeparamref name="TGrain"/> and the call paths into them.</summary>
internal sealed class GrainDirectory<TGrain> : GrainDirectory
    where TGrain : Grain
{
    private readonly ConcurrentDictionary<GrainKey, Activation<TGrain>> _activations = new();
    private readonly Func<GrainId, TGrain> _factory;

    public GrainDirectory(GrainRuntime runtime, string grainType, IGrainStorage storage, int readStripes, Func<GrainId, TGrain> factory)
        : base(runtime, grainType, storage, readStripes)
    {
        _factory = factory;
    }

    public override int Count => _activations.Count;

    private protected override IEnumerable<Activation> Activations => _activations.Values;

    public override void CopyActivationsTo(List<Activation> destination)
    {
        foreach (var pair in _activations)
        {
            destination.Add(pair.Value);
        }
    }

    private protected override bool Remove(Activation activation) =>
        _activations.TryRemove(KeyValuePair.Create(activation.GrainId.Key, (Activation<TGrain>)activation));

    internal TGrain CreateGrain(GrainId grainId) =>
        _factory(grainId) ?? throw new InvalidOperationException("The factory of grain type " + GrainType + " returned null.");

    public bool IsActive(GrainKey key) =>
        _activations.TryGetValue(key, out var activation) && activation.Status == Activation.StatusValid;

    public long GetQueueLength(GrainKey key) =>
        _activations.TryGetValue(key, out var activation) ? activation.PendingTurns : 0;

    private Activation<TGrain> GetOrAddActivation(GrainKey key) =>
        _activations.TryGetValue(key, out var activation) ? activation : AddActivation(key);

    private Activation<TGrain> AddActivation(GrainKey key)
    {
        Runtime.ThrowIfStopping();
        return _activations.GetOrAdd(key, static (k, directory) => new Activation<TGrain>(directory, k), this);
    }

    // ---- write turns ----

    /// <summary>Queues <paramref name="turn"/>; returns null when queued, else the activation being deactivated.</summary>
    private Activation<TGrain>? TryEnqueue(GrainKey key, Turn<TGrain> turn)
    {
        var activation = GetOrAddActivation(key);
        return activation.TryEnqueue(turn) ? null : activation;
    }

    private async ValueTask EnqueueAfterDeactivationAsync(GrainKey key, Turn<TGrain> turn, Activation<TGrain> blocked)
    {
        while (true)
        {
            await blocked.WaitForDeactivationAsync().ConfigureAwait(false);
            var next = TryEnqueue(key, turn);
            if (next is null)
            {
                return;
            }

            blocked = next;
        }
    }

    public ValueTask<TResult> InvokeAsync<TArg, TResult>(GrainKey key, TArg arg, Func<TGrain, TArg, ValueTask<TResult>> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        var turn = new InvokeTurn<TGrain, TArg, TResult>(func, arg);
        var blocked = TryEnqueue(key, turn);
        return blocked is null ? turn.AsValueTask() : InvokeSlowAsync(key, turn, blocked);
    }

    public ValueTask InvokeVoidAsync<TArg>(GrainKey key, TArg arg, Func<TGrain, TArg, ValueTask<bool>> func)
    {
        var turn = new InvokeTurn<TGrain, TArg, bool>(func, arg);
        var blocked = TryEnqueue(key, turn);
        return blocked is null ? turn.AsNonGenericValueTask() : new ValueTask(InvokeSlowAsync(key, turn, blocked).AsTask());
    }

    private async ValueTask<TResult> InvokeSlowAsync<TArg, TResult>(GrainKey key, InvokeTurn<TGrain, TArg, TResult> turn, Activation<TGrain> blocked)
    {
        await EnqueueAfterDeactivationAsync(key, turn, blocked).ConfigureAwait(false);
        return await turn.AsValueTask().ConfigureAwait(false);
    }

    public void Post(GrainKey key, Turn<TGrain> turn)
    {
        var blocked = TryEnqueue(key, turn);
        if (blocked is not null)
        {
            _ = PostSlowAsync(key, turn, blocked);
        }
    }

    public ValueTask PostAsync(GrainKey key, Turn<TGrain> turn)
    {
        var blocked = TryEnqueue(key, turn);
        return blocked is null ? default : EnqueueAfterDeactivationAsync(key, turn, blocked);
    }

    private async Task PostSlowAsync(GrainKey key, Turn<TGrain> turn, Activation<TGrain> blocked)
    {
        try
        {
            await EnqueueAfterDeactivationAsync(key, turn, blocked).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            ReportPostFailure(new GrainId(GrainType, key), e);
        }
    }

    // ---- interleaving reads ----

    public TResult Read<TArg, TResult>(GrainKey key, TArg arg, Func<TGrain, TArg, TResult> func)
    {
        if (_activations.TryGetValue(key, out var activation))
        {
            var slot = activation.EnterRead();
            if (activation.Status == Activation.StatusValid)
            {
                try
                {
                    return func(activation.Grain, arg);
                }
                finally
                {
                    activation.ExitRead(slot);
                }
            }

            activation.ExitRead(slot);
        }

        // Cold path: activate (or wait out a deactivation) and block this caller until then.
        return ReadSlowAsync(key, arg, func).GetAwaiter().GetResult();
    }

    private async Task<TResult> ReadSlowAsync<TArg, TResult>(GrainKey key, TArg arg, Func<TGrain, TArg, TResult> func)
    {
        var activation = await EnterReadSlowAsync(key).ConfigureAwait(false);
        try
        {
            return func(activation.Activation.Grain, arg);
        }
        finally
        {
            activation.Activation.ExitRead(activation.Slot);
        }
    }

    public ValueTask<TResult> ReadAsync<TArg, TResult>(GrainKey key, TArg arg, Func<TGrain, TArg, ValueTask<TResult>> func)
    {
        if (_activations.TryGetValue(key, out var activation))
        {
            var slot = activation.EnterRead();
            if (activation.Status == Activation.StatusValid)
            {
                ValueTask<TResult> pending;
                try
                {
                    pending = func(activation.Grain, arg);
                }
                catch
                {
                    activation.ExitRead(slot);
                    throw;
                }

                if (pending.IsCompleted)
                {
                    activation.ExitRead(slot);
                    return pending;
                }

                return AwaitReadAsync(pending, activation, slot);
            }

            activation.ExitRead(slot);
        }

        return ReadAsyncSlowAsync(key, arg, func);
    }

    private static async ValueTask<TResult> AwaitReadAsync<TResult>(ValueTask<TResult> pending, Activation<TGrain> activation, int slot)
    {
        try
        {
            return await pending.ConfigureAwait(false);
        }
        finally
        {
            activation.ExitRead(slot);
        }
    }

    private async ValueTask<TResult> ReadAsyncSlowAsync<TArg, TResult>(GrainKey key, TArg arg, Func<TGrain, TArg, ValueTask<TResult>> func)
    {
        var activation = await EnterReadSlowAsync(key).ConfigureAwait(false);
        try
        {
            return await func(activation.Activation.Grain, arg).ConfigureAwait(false);
        }
        finally
        {
            activation.Activation.ExitRead(activation.Slot);
        }
    }

    /// <summary>
    /// Returns a Valid activation with a read announced on it (the caller must call ExitRead). Activates the
    /// grain if needed (holding the read announced meanwhile, so the activation cannot be collected under
    /// it) and waits out a deactivation.
    /// </summary>
    private async ValueTask<(Activation<TGrain> Activation, int Slot)> EnterReadSlowAsync(GrainKey key)
    {
        while (true)
        {
            var activation = GetOrAddActivation(key);
            var slot = activation.EnterRead();
            var status = activation.Status;
            if (status == Activation.StatusValid)
            {
                return (activation, slot);
            }

            if (status <= Activation.StatusActivating)
            {
                try
                {
                    var activated = activation.ActivationTask;
                    activation.RequestActivation();
                    await activated.ConfigureAwait(false);
                }
                finally
                {
                    activation.ExitRead(slot);
                }

                continue;
            }

            activation.ExitRead(slot);
            await activation.WaitForDeactivationAsync().ConfigureAwait(false);
        }
    }
}
