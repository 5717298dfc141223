using AdCtr.LoadTests.Engine;

namespace AdCtr.LoadTests.Tests;

/// <summary>
/// Virtual time in microseconds for the load engine. <see cref="WaitUntil"/> advances time instead of sleeping
/// and completes, in due-time order, every timer due by then, setting the clock to each timer's due time first,
/// so code resumed by a timer reads exactly that time. Single-threaded use only.
/// </summary>
internal sealed class VirtualClock : ILoadClock
{
    private readonly PriorityQueue<TaskCompletionSource, (long Due, long Sequence)> _timers = new();
    private long _now;
    private long _sequence;

    /// <summary>Extra ticks added to the next wait, to simulate a stalled generator thread.</summary>
    public long NextWaitOvershoot { get; set; }

    public long Frequency => 1_000_000;

    public long GetTimestamp() => _now;

    public void WaitUntil(long timestamp)
    {
        var target = timestamp + NextWaitOvershoot;
        NextWaitOvershoot = 0;
        // Bounded: each pass removes one timer.
        while (_timers.TryPeek(out var timer, out var key) && key.Due <= target)
        {
            _timers.Dequeue();
            _now = Math.Max(_now, key.Due);
            timer.SetResult();
        }

        _now = Math.Max(_now, target);
    }

    /// <summary>A task that completes when virtual time reaches <paramref name="timestamp"/>.</summary>
    public Task DelayUntil(long timestamp)
    {
        if (timestamp <= _now)
        {
            return Task.CompletedTask;
        }

        // No RunContinuationsAsynchronously: the continuation runs inside WaitUntil, at the due time.
        var timer = new TaskCompletionSource();
        _timers.Enqueue(timer, (timestamp, _sequence++));
        return timer.Task;
    }
}

/// <summary>
/// A server with one worker and a FIFO queue: each request takes <c>serviceTicks</c> of work and starts when
/// the worker is free, so requests arriving faster than the service rate queue up.
/// </summary>
internal sealed class SingleServerTransport(VirtualClock clock, long serviceTicks) : ILoadTransport
{
    private long _freeAt;

    public List<long> SendTimes { get; } = [];

    public async ValueTask<int> SendAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        var now = clock.GetTimestamp();
        SendTimes.Add(now);
        _freeAt = Math.Max(now, _freeAt) + serviceTicks;
        await clock.DelayUntil(_freeAt).ConfigureAwait(false);
        return 200;
    }
}
