namespace AdCtr.Grains.Runtime;

/// <summary>
/// Base class of a grain without persisted state (Orleans' Grain). A grain runs one write turn at a time,
/// so its code needs no locks; read-only members called through <see cref="GrainReference{TGrain}.Read{TArg, TResult}"/>
/// may run concurrently with each other and with a write turn and must tolerate that.
/// </summary>
public abstract class Grain
{
    private Activation? _activation;

    /// <summary>The address of this grain.</summary>
    public GrainId GrainId => Context.GrainId;

    /// <summary>Gets references to other grains.</summary>
    protected IGrainFactory GrainFactory => Context.Runtime;

    private Activation Context => _activation ?? ThrowHelper.ThrowNotActivated<Activation>();

    /// <summary>The integer key of this grain.</summary>
    public long GetPrimaryKeyLong() => GrainId.Key.LongKey;

    /// <summary>The string key of this grain (the decimal text of an integer key).</summary>
    public string GetPrimaryKeyString() => GrainId.Key.ToString();

    /// <summary>Called once per activation before the first turn (after the state is read).</summary>
    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Called once when the activation is deactivated, before the state is written.</summary>
    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Asks the runtime to deactivate this activation once it has no queued or running turn.</summary>
    protected void DeactivateOnIdle() => Context.RequestDeactivation();

    internal void Bind(Activation activation) => _activation = activation;

    internal IGrainStorage Storage => Context.Storage;

    internal void MarkStateClean() => Context.MarkClean();

    internal virtual Task ReadStateForActivationAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal virtual Task WriteStateForDeactivationAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// Base class of a grain with persisted state (Orleans' Grain&lt;TState&gt;). The state is read from
/// <see cref="IGrainStorage"/> before <see cref="Grain.OnActivateAsync"/>, and written when the activation is
/// deactivated if a write turn ran since the last explicit <see cref="WriteStateAsync"/>.
/// </summary>
public abstract class Grain<TState> : Grain
    where TState : new()
{
    private readonly GrainState<TState> _grainState = new(new TState());

    /// <summary>The state of this grain.</summary>
    protected TState State
    {
        get => _grainState.State;
        set => _grainState.State = value;
    }

    /// <summary>Re-reads the state from storage.</summary>
    protected Task ReadStateAsync() => Storage.ReadStateAsync(GrainId, _grainState, CancellationToken.None);

    /// <summary>
    /// Writes the state now. The state counts as clean afterwards: changes made later in the same turn are
    /// persisted by the next write (an explicit one or the one at deactivation after a further turn).
    /// </summary>
    protected async Task WriteStateAsync()
    {
        await Storage.WriteStateAsync(GrainId, _grainState, CancellationToken.None).ConfigureAwait(false);
        MarkStateClean();
    }

    /// <summary>Deletes the stored state and resets <see cref="State"/> to a new instance.</summary>
    protected async Task ClearStateAsync()
    {
        await Storage.ClearStateAsync(GrainId, _grainState, CancellationToken.None).ConfigureAwait(false);
        _grainState.State = new TState();
        MarkStateClean();
    }

    internal override Task ReadStateForActivationAsync(CancellationToken cancellationToken) =>
        Storage.ReadStateAsync(GrainId, _grainState, cancellationToken);

    internal override Task WriteStateForDeactivationAsync(CancellationToken cancellationToken) =>
        Storage.WriteStateAsync(GrainId, _grainState, cancellationToken);
}
