namespace AdCtr.Grains.Runtime;

/// <summary>
/// A reference to one grain (Orleans' grain reference): a struct of the grain type's directory and the key,
/// so getting one allocates nothing. References are cheap to create on every call and may be stored.
/// <para>
/// Write turns (<c>InvokeAsync</c>, <c>Post</c>, <c>PostAsync</c>) run one at a time in arrival order per
/// activation. Reads (<c>Read</c>, <c>ReadAsync</c>) do not queue: they run on the caller's thread, concurrently
/// with each other and with a write turn (Orleans' [ReadOnly] + [AlwaysInterleave]), so they must only read
/// state the grain publishes safely (immutable snapshots, atomic fields, Hogwild-style float weights).
/// </para>
/// <para>
/// A grain must not await a write turn on itself from inside its own turn (it would wait for itself), the
/// same rule as a non-reentrant Orleans grain.
/// </para>
/// </summary>
public readonly struct GrainReference<TGrain> : IEquatable<GrainReference<TGrain>>
    where TGrain : Grain
{
    private readonly GrainDirectory<TGrain> _directory;
    private readonly GrainKey _key;

    internal GrainReference(GrainDirectory<TGrain> directory, GrainKey key)
    {
        _directory = directory;
        _key = key;
    }

    /// <summary>The address of the grain.</summary>
    public GrainId GrainId => new(_directory.GrainType, _key);

    /// <summary>The key of the grain.</summary>
    public GrainKey Key => _key;

    /// <summary>True when the grain is currently activated.</summary>
    public bool IsActive => _directory.IsActive(_key);

    /// <summary>Write turns queued or running on the current activation (0 when not active).</summary>
    public long QueueLength => _directory.GetQueueLength(_key);

    // ---- write turns ----

    /// <summary>Runs <paramref name="func"/> as a write turn and returns its result (or its exception).</summary>
    public ValueTask<TResult> InvokeAsync<TResult>(Func<TGrain, ValueTask<TResult>> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        return _directory.InvokeAsync(_key, func, static (grain, f) => f(grain));
    }

    /// <summary>Runs <paramref name="func"/> as a write turn and returns its result (or its exception).</summary>
    public ValueTask<TResult> InvokeAsync<TResult>(Func<TGrain, Task<TResult>> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        return _directory.InvokeAsync(_key, func, static (grain, f) => new ValueTask<TResult>(f(grain)));
    }

    /// <summary>Runs <paramref name="func"/> as a write turn; completes when it has run.</summary>
    public ValueTask InvokeAsync(Func<TGrain, ValueTask> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        return _directory.InvokeVoidAsync(_key, func, static (grain, f) => ToBool(f(grain)));
    }

    /// <summary>Runs <paramref name="func"/> as a write turn; completes when it has run.</summary>
    public ValueTask InvokeAsync(Func<TGrain, Task> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        return _directory.InvokeVoidAsync(_key, func, static (grain, f) => ToBool(new ValueTask(f(grain))));
    }

    /// <summary>
    /// Runs <paramref name="func"/>(grain, <paramref name="arg"/>) as a write turn. With a static lambda the
    /// only allocation is the turn itself.
    /// </summary>
    public ValueTask<TResult> InvokeAsync<TArg, TResult>(TArg arg, Func<TGrain, TArg, ValueTask<TResult>> func) =>
        _directory.InvokeAsync(_key, arg, func);

    /// <summary>
    /// Queues <paramref name="action"/> as a write turn and returns at once (fire-and-forget, Orleans' [OneWay]).
    /// An exception is counted in <see cref="GrainRuntimeStatistics.FailedTurns"/> and logged. Posts from one
    /// thread run in the order they were posted, and before any later turn from that thread.
    /// </summary>
    public void Post(Action<TGrain> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        _directory.Post(_key, new PostTurn<TGrain, Action<TGrain>>(static (grain, a) => a(grain), action));
    }

    /// <summary>Allocation-lean <see cref="Post(Action{TGrain})"/>: one turn object per call with a static lambda.</summary>
    public void Post<TArg>(TArg arg, Action<TGrain, TArg> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        _directory.Post(_key, new PostTurn<TGrain, TArg>(action, arg));
    }

    /// <summary>
    /// Queues the asynchronous <paramref name="func"/> as a fire-and-forget write turn. The returned task
    /// completes when the turn is queued (not when it has run); it only waits while the grain is being
    /// deactivated, and throws when the runtime is stopped.
    /// </summary>
    public ValueTask PostAsync(Func<TGrain, ValueTask> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        return _directory.PostAsync(_key, new PostAsyncTurn<TGrain, Func<TGrain, ValueTask>>(static (grain, f) => f(grain), func));
    }

    /// <summary>Allocation-lean <see cref="PostAsync(Func{TGrain, ValueTask})"/>.</summary>
    public ValueTask PostAsync<TArg>(TArg arg, Func<TGrain, TArg, ValueTask> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        return _directory.PostAsync(_key, new PostAsyncTurn<TGrain, TArg>(func, arg));
    }

    // ---- interleaving reads ----

    /// <summary>
    /// Runs <paramref name="func"/> on the caller's thread, concurrently with other reads and with a write
    /// turn. Allocation-free when the grain is active and <paramref name="func"/> is a static lambda; when it
    /// is not, the caller blocks until the grain is activated (use <see cref="ReadAsync{TArg, TResult}"/> to wait
    /// asynchronously).
    /// </summary>
    public TResult Read<TArg, TResult>(TArg arg, Func<TGrain, TArg, TResult> func) =>
        _directory.Read(_key, arg, func);

    /// <summary>Convenience <see cref="Read{TArg, TResult}"/> (a capturing lambda allocates).</summary>
    public TResult Read<TResult>(Func<TGrain, TResult> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        return _directory.Read(_key, func, static (grain, f) => f(grain));
    }

    /// <summary>An interleaving read that may await; the read counts as in flight until it completes.</summary>
    public ValueTask<TResult> ReadAsync<TArg, TResult>(TArg arg, Func<TGrain, TArg, ValueTask<TResult>> func) =>
        _directory.ReadAsync(_key, arg, func);

    /// <summary>Convenience <see cref="ReadAsync{TArg, TResult}"/>.</summary>
    public ValueTask<TResult> ReadAsync<TResult>(Func<TGrain, ValueTask<TResult>> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        return _directory.ReadAsync(_key, func, static (grain, f) => f(grain));
    }

    public bool Equals(GrainReference<TGrain> other) => ReferenceEquals(_directory, other._directory) && _key.Equals(other._key);

    public override bool Equals(object? obj) => obj is GrainReference<TGrain> other && Equals(other);

    public override int GetHashCode() => _key.GetHashCode();

    public override string ToString() => GrainId.ToString();

    public static bool operator ==(GrainReference<TGrain> left, GrainReference<TGrain> right) => left.Equals(right);

    public static bool operator !=(GrainReference<TGrain> left, GrainReference<TGrain> right) => !left.Equals(right);

    private static ValueTask<bool> ToBool(ValueTask pending) =>
        pending.IsCompletedSuccessfully ? new ValueTask<bool>(true) : AwaitToBool(pending);

    private static async ValueTask<bool> AwaitToBool(ValueTask pending)
    {
        await pending.ConfigureAwait(false);
        return true;
    }
}
