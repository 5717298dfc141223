using AdCtr.Grains.Runtime;

namespace AdCtr.Grains.Tests.Runtime;

public sealed class CounterState
{
    public long Count { get; set; }
}

/// <summary>What the test observes of a grain's lifecycle; owned by one test.</summary>
public sealed class GrainProbe
{
    private int _activations;
    private int _deactivations;

    public int Activations => Volatile.Read(ref _activations);

    public int Deactivations => Volatile.Read(ref _deactivations);

    public List<DeactivationReasonCode> Reasons { get; } = [];

    /// <summary>When set, OnDeactivateAsync signals <see cref="DeactivationStarted"/> and waits for this task.</summary>
    public Task? DeactivationGate { get; set; }

    public TaskCompletionSource DeactivationStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Deactivated { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Number of upcoming activations that throw from OnActivateAsync.</summary>
    public int FailActivations { get; set; }

    internal void OnActivated() => Interlocked.Increment(ref _activations);

    internal void OnDeactivated(DeactivationReasonCode reason)
    {
        lock (Reasons)
        {
            Reasons.Add(reason);
        }

        Interlocked.Increment(ref _deactivations);
    }
}

/// <summary>A persisted counter that checks it never runs two write turns at once.</summary>
public sealed class CounterGrain(GrainProbe probe) : Grain<CounterState>
{
    private int _inTurn;
    private int _maxConcurrentTurns;

    /// <summary>The largest number of write turns seen running at once (must stay 1).</summary>
    public int MaxConcurrentTurns => Volatile.Read(ref _maxConcurrentTurns);

    /// <summary>Read-only: safe to call concurrently with a write turn (a long read is atomic on 64-bit).</summary>
    public long Count => State.Count;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (probe.FailActivations > 0)
        {
            probe.FailActivations--;
            throw new InvalidOperationException("activation failed on purpose");
        }

        probe.OnActivated();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.OnDeactivated(reason.ReasonCode);
        if (probe.DeactivationGate is { } gate)
        {
            probe.DeactivationStarted.TrySetResult();
            await gate;
        }

        probe.Deactivated.TrySetResult();
    }

    public long Increment()
    {
        EnterTurn();
        var value = ++State.Count;
        ExitTurn();
        return value;
    }

    public async ValueTask<long> IncrementYieldingAsync()
    {
        EnterTurn();
        var before = State.Count;
        await Task.Yield();
        State.Count = before + 1;
        ExitTurn();
        return before + 1;
    }

    /// <summary>Sets the count, then blocks the turn until <paramref name="release"/> completes.</summary>
    public async Task<long> SetAndBlockAsync(long value, TaskCompletionSource started, Task release)
    {
        EnterTurn();
        State.Count = value;
        started.TrySetResult();
        await release;
        ExitTurn();
        return value;
    }

    public long Throw() => throw new InvalidOperationException("turn failed on purpose");

    public Task SaveAsync() => WriteStateAsync();

    public Task ClearAsync() => ClearStateAsync();

    public void RequestDeactivation() => DeactivateOnIdle();

    private void EnterTurn()
    {
        var now = Interlocked.Increment(ref _inTurn);
        if (now > _maxConcurrentTurns)
        {
            Volatile.Write(ref _maxConcurrentTurns, now);
        }
    }

    private void ExitTurn() => Interlocked.Decrement(ref _inTurn);
}

/// <summary>A grain without state.</summary>
public sealed class EchoGrain : Grain
{
    public string Echo(string text) => GetPrimaryKeyString() + ":" + text;
}
