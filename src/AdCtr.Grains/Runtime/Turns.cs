using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace AdCtr.Grains.Runtime;

/// <summary>
/// One queued write turn. The turn object is also the node of the activation's intrusive queue, so a turn
/// costs exactly one allocation. <see cref="ExecuteAsync"/> captures the outcome without publishing it; the
/// drain loop does its bookkeeping (turn counters, queue length) and then calls <see cref="Complete"/>, so a
/// caller that observes the result also observes the counters.
/// </summary>
internal abstract class Turn<TGrain>
    where TGrain : Grain
{
    internal Turn<TGrain>? Next;

    /// <summary>Runs the turn. Never throws; returns false when the turn failed.</summary>
    public abstract ValueTask<bool> ExecuteAsync(TGrain grain);

    /// <summary>Publishes the outcome captured by <see cref="ExecuteAsync"/>.</summary>
    public abstract void Complete(Activation<TGrain> activation);

    /// <summary>The turn never ran: the activation could not be created.</summary>
    public abstract void Fail(Activation<TGrain> activation, Exception exception);
}

/// <summary>A turn whose caller awaits its result (also usable as a non-generic ValueTask).</summary>
internal sealed class InvokeTurn<TGrain, TArg, TResult> : Turn<TGrain>, IValueTaskSource<TResult>, IValueTaskSource
    where TGrain : Grain
{
    private readonly Func<TGrain, TArg, ValueTask<TResult>> _func;
    private readonly TArg _arg;
    private ManualResetValueTaskSourceCore<TResult> _core;
    private TResult? _result;
    private Exception? _error;

    public InvokeTurn(Func<TGrain, TArg, ValueTask<TResult>> func, TArg arg)
    {
        _func = func;
        _arg = arg;
        // The caller's continuation must never run inside the drain loop (it would block the grain).
        _core.RunContinuationsAsynchronously = true;
    }

    public ValueTask<TResult> AsValueTask() => new(this, _core.Version);

    public ValueTask AsNonGenericValueTask() => new(this, _core.Version);

    public override ValueTask<bool> ExecuteAsync(TGrain grain)
    {
        ValueTask<TResult> pending;
        try
        {
            pending = _func(grain, _arg);
        }
        catch (Exception e)
        {
            _error = e;
            return new ValueTask<bool>(false);
        }

        if (pending.IsCompletedSuccessfully)
        {
            _result = pending.Result;
            return new ValueTask<bool>(true);
        }

        return AwaitAsync(pending);
    }

    public override void Complete(Activation<TGrain> activation)
    {
        if (_error is null)
        {
            _core.SetResult(_result!);
        }
        else
        {
            _core.SetException(_error);
        }
    }

    public override void Fail(Activation<TGrain> activation, Exception exception) => _core.SetException(exception);

    public TResult GetResult(short token) => _core.GetResult(token);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> AwaitAsync(ValueTask<TResult> pending)
    {
        try
        {
            _result = await pending.ConfigureAwait(false);
            return true;
        }
        catch (Exception e)
        {
            _error = e;
            return false;
        }
    }
}

/// <summary>A fire-and-forget synchronous turn; a failure is counted and logged.</summary>
internal sealed class PostTurn<TGrain, TArg> : Turn<TGrain>
    where TGrain : Grain
{
    private readonly Action<TGrain, TArg> _action;
    private readonly TArg _arg;
    private Exception? _error;

    public PostTurn(Action<TGrain, TArg> action, TArg arg)
    {
        _action = action;
        _arg = arg;
    }

    public override ValueTask<bool> ExecuteAsync(TGrain grain)
    {
        try
        {
            _action(grain, _arg);
            return new ValueTask<bool>(true);
        }
        catch (Exception e)
        {
            _error = e;
            return new ValueTask<bool>(false);
        }
    }

    public override void Complete(Activation<TGrain> activation)
    {
        if (_error is not null)
        {
            activation.Directory.ReportPostFailure(activation.GrainId, _error);
        }
    }

    public override void Fail(Activation<TGrain> activation, Exception exception) =>
        activation.Directory.ReportPostFailure(activation.GrainId, exception);
}

/// <summary>A fire-and-forget asynchronous turn; a failure is counted and logged.</summary>
internal sealed class PostAsyncTurn<TGrain, TArg> : Turn<TGrain>
    where TGrain : Grain
{
    private readonly Func<TGrain, TArg, ValueTask> _func;
    private readonly TArg _arg;
    private Exception? _error;

    public PostAsyncTurn(Func<TGrain, TArg, ValueTask> func, TArg arg)
    {
        _func = func;
        _arg = arg;
    }

    public override ValueTask<bool> ExecuteAsync(TGrain grain)
    {
        ValueTask pending;
        try
        {
            pending = _func(grain, _arg);
        }
        catch (Exception e)
        {
            _error = e;
            return new ValueTask<bool>(false);
        }

        return pending.IsCompletedSuccessfully ? new ValueTask<bool>(true) : AwaitAsync(pending);
    }

    public override void Complete(Activation<TGrain> activation)
    {
        if (_error is not null)
        {
            activation.Directory.ReportPostFailure(activation.GrainId, _error);
        }
    }

    public override void Fail(Activation<TGrain> activation, Exception exception) =>
        activation.Directory.ReportPostFailure(activation.GrainId, exception);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> AwaitAsync(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
            return true;
        }
        catch (Exception e)
        {
            _error = e;
            return false;
        }
    }
}

/// <summary>The permanent stub node of a <see cref="TurnQueue{TGrain}"/>; never executed.</summary>
internal sealed class StubTurn<TGrain> : Turn<TGrain>
    where TGrain : Grain
{
    public override ValueTask<bool> ExecuteAsync(TGrain grain) => throw new InvalidOperationException("The stub turn is never executed.");

    public override void Complete(Activation<TGrain> activation) => throw new InvalidOperationException("The stub turn is never completed.");

    public override void Fail(Activation<TGrain> activation, Exception exception) => throw new InvalidOperationException("The stub turn is never failed.");
}

/// <summary>
/// Intrusive multi-producer single-consumer queue of turns (Dmitry Vyukov's non-blocking MPSC node-based
/// queue, https://www.1024cores.net/home/lock-free-algorithms/queues/intrusive-mpsc-node-based-queue).
/// Enqueue is one <see cref="Interlocked.Exchange{T}(ref T, T)"/> and allocates nothing (the turn is the node);
/// an empty queue costs one stub node. A producer links its node right after the exchange, so between the two
/// the consumer may see the queue as empty; producers therefore always schedule the consumer after linking.
/// </summary>
internal sealed class TurnQueue<TGrain>
    where TGrain : Grain
{
    private readonly Turn<TGrain> _stub = new StubTurn<TGrain>();
    private Turn<TGrain> _head;
    private Turn<TGrain> _tail;

    public TurnQueue()
    {
        _head = _stub;
        _tail = _stub;
    }

    /// <summary>Adds a turn (any thread).</summary>
    public void Enqueue(Turn<TGrain> turn)
    {
        turn.Next = null;
        var previous = Interlocked.Exchange(ref _tail, turn);
        Volatile.Write(ref previous.Next, turn);
    }

    /// <summary>
    /// Removes the oldest linked turn (consumer only). Returns null when the queue is empty or a producer is
    /// between its exchange and its link.
    /// </summary>
    public Turn<TGrain>? TryDequeue()
    {
        var head = _head;
        var next = Volatile.Read(ref head.Next);
        if (head == _stub)
        {
            if (next is null)
            {
                return null;
            }

            _head = next;
            head = next;
            next = Volatile.Read(ref next.Next);
        }

        if (next is not null)
        {
            _head = next;
            return head;
        }

        if (head != Volatile.Read(ref _tail))
        {
            return null;
        }

        Enqueue(_stub);
        next = Volatile.Read(ref head.Next);
        if (next is not null)
        {
            _head = next;
            return head;
        }

        return null;
    }

    /// <summary>
    /// True when <see cref="TryDequeue"/> would return a turn. May be called off the consumer (as a hint):
    /// it only reads.
    /// </summary>
    public bool HasDequeueable()
    {
        var head = Volatile.Read(ref _head);
        if (head == _stub)
        {
            return Volatile.Read(ref _stub.Next) is not null;
        }

        return Volatile.Read(ref head.Next) is not null || head == Volatile.Read(ref _tail);
    }
}
