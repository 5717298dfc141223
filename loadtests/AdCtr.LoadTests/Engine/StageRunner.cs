namespace AdCtr.LoadTests.Engine;

/// <summary>
/// Runs one load stage. The open model runs on the calling thread, which becomes the scheduler: it waits for
/// each request's intended time, starts the request without waiting for earlier ones, and records latency from
/// the intended time. The closed model runs <c>copies</c> loops, each sending its next request when the previous
/// one completes.
/// </summary>
public sealed class StageRunner
{
    private readonly ILoadClock _clock;
    private readonly ILoadTransport _transport;
    private readonly RequestFeed _feed;
    private readonly StageRunnerOptions _options;
    private long _inFlight;
    private long _completed;
    private long _errors;
    private long _lastCompletion;

    public StageRunner(ILoadClock clock, ILoadTransport transport, RequestFeed feed, StageRunnerOptions options)
    {
        _clock = clock;
        _transport = transport;
        _feed = feed;
        _options = options;
    }

    /// <summary>The index of the next request taken from the feed; it continues across stages so bodies vary.</summary>
    public long FeedPosition { get; set; }

    /// <summary>Runs the stage synchronously (call it on a dedicated thread). Bounded by the stage duration plus the drain timeout.</summary>
    public StageSamples Run(LoadSimulation simulation, Action<StageProgress>? progress, CancellationToken cancellationToken) =>
        simulation is KeepConstant closed
            ? RunClosed(closed, progress, cancellationToken)
            : RunOpen(simulation, progress, cancellationToken);

    private StageSamples RunOpen(LoadSimulation simulation, Action<StageProgress>? progress, CancellationToken cancellationToken)
    {
        var schedule = OpenSchedule.For(simulation, _clock.Frequency);
        var n = schedule.Count;
        var codes = new int[n];
        var latency = new long[n];
        var service = new long[n];
        var lag = new long[n];
        Reset();

        var progressEvery = _clock.Frequency;
        var start = _clock.GetTimestamp();
        var nextProgress = start + progressEvery;
        var sent = 0;
        for (var i = 0; i < n; i++)
        {
            var intended = start + schedule.OffsetTicks(i);
            if (_clock.GetTimestamp() < intended)
            {
                _clock.WaitUntil(intended);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                for (var j = i; j < n; j++)
                {
                    codes[j] = Outcome.Cancelled;
                }

                break;
            }

            var now = _clock.GetTimestamp();
            lag[i] = now - intended;
            if (Interlocked.Read(ref _inFlight) >= _options.MaxInFlight)
            {
                codes[i] = Outcome.Dropped;
                Interlocked.Increment(ref _errors);
                continue;
            }

            Interlocked.Increment(ref _inFlight);
            sent++;
            _ = SendOneAsync(_feed[FeedPosition++], i, intended, now, codes, latency, service, cancellationToken);

            if (progress is not null && now >= nextProgress)
            {
                nextProgress = now + progressEvery;
                progress(Snapshot(start, sent));
            }
        }

        Drain(start + schedule.DurationTicks, progress, start, sent);
        return new StageSamples(simulation, _clock.Frequency, schedule.DurationTicks, codes, latency, service, lag, ActiveTicks(start));
    }

    private StageSamples RunClosed(KeepConstant simulation, Action<StageProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(simulation.Copies);
        Reset();
        var duration = (long)((Int128)simulation.During.Ticks * _clock.Frequency / TimeSpan.TicksPerSecond);
        var start = _clock.GetTimestamp();
        var end = start + duration;
        var copies = new List<(int Code, long Latency)>[simulation.Copies];
        for (var c = 0; c < copies.Length; c++)
        {
            copies[c] = [];
        }

        // Each loop reads the shared position with Interlocked, so copies take distinct requests.
        var position = FeedPosition;
        for (var c = 0; c < copies.Length; c++)
        {
            _ = CopyLoopAsync(copies[c], end, () => Interlocked.Increment(ref position) - 1, cancellationToken);
        }

        Drain(end, progress, start, sent: -1);
        FeedPosition = Interlocked.Read(ref position);

        var total = 0;
        foreach (var list in copies)
        {
            lock (list)
            {
                total += list.Count;
            }
        }

        var codes = new int[total];
        var latency = new long[total];
        var k = 0;
        foreach (var list in copies)
        {
            lock (list)
            {
                foreach (var (code, ticks) in list)
                {
                    if (k == total)
                    {
                        break;
                    }

                    codes[k] = code;
                    latency[k] = ticks;
                    k++;
                }
            }
        }

        // In the closed model a request is sent when its user is ready: latency and service time are the same, lag is zero.
        return new StageSamples(simulation, _clock.Frequency, duration, codes, latency, (long[])latency.Clone(), new long[total], ActiveTicks(start));
    }

    private async Task CopyLoopAsync(List<(int Code, long Latency)> results, long end, Func<long> nextIndex, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            // Bounded: each pass takes at least one transport call, and the loop stops at the stage end.
            while (!cancellationToken.IsCancellationRequested && _clock.GetTimestamp() < end)
            {
                var sentAt = _clock.GetTimestamp();
                int code;
                try
                {
                    code = await _transport.SendAsync(_feed[nextIndex()], cancellationToken).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    code = Outcome.Other;
                }

                var done = _clock.GetTimestamp();
                NoteCompletion(done);
                lock (results)
                {
                    results.Add((code, done - sentAt));
                }

                Interlocked.Increment(ref _completed);
                if (!Outcome.IsSuccess(code))
                {
                    Interlocked.Increment(ref _errors);
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task SendOneAsync(LoadRequest request, int index, long intended, long sentAt, int[] codes, long[] latency, long[] service, CancellationToken cancellationToken)
    {
        int code;
        try
        {
            code = await _transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            code = Outcome.Other;
        }

        var done = _clock.GetTimestamp();
        NoteCompletion(done);
        latency[index] = done - intended;
        service[index] = done - sentAt;
        codes[index] = code;
        Interlocked.Increment(ref _completed);
        if (!Outcome.IsSuccess(code))
        {
            Interlocked.Increment(ref _errors);
        }

        Interlocked.Decrement(ref _inFlight);
    }

    /// <summary>Waits, in steps of at most one millisecond, until nothing is in flight or the drain deadline passes.</summary>
    private void Drain(long stageEnd, Action<StageProgress>? progress, long start, int sent)
    {
        var step = Math.Max(1, _clock.Frequency / 1000);
        var deadline = stageEnd + (long)((Int128)_options.DrainTimeout.Ticks * _clock.Frequency / TimeSpan.TicksPerSecond);
        var nextProgress = _clock.GetTimestamp() + _clock.Frequency;
        var now = _clock.GetTimestamp();
        // Bounded by the deadline: each pass advances the clock by up to one step.
        while (now < deadline && (now < stageEnd || Interlocked.Read(ref _inFlight) > 0))
        {
            _clock.WaitUntil(Math.Min(now + step, deadline));
            now = _clock.GetTimestamp();
            if (progress is not null && now >= nextProgress)
            {
                nextProgress = now + _clock.Frequency;
                progress(Snapshot(start, sent));
            }
        }
    }

    private StageProgress Snapshot(long start, long sent) =>
        new((_clock.GetTimestamp() - start) / (double)_clock.Frequency, sent < 0 ? Interlocked.Read(ref _completed) + Interlocked.Read(ref _inFlight) : sent,
            Interlocked.Read(ref _completed), Interlocked.Read(ref _errors), Interlocked.Read(ref _inFlight));

    private void Reset()
    {
        Interlocked.Exchange(ref _inFlight, 0);
        Interlocked.Exchange(ref _completed, 0);
        Interlocked.Exchange(ref _errors, 0);
        Interlocked.Exchange(ref _lastCompletion, long.MinValue);
    }

    private void NoteCompletion(long timestamp)
    {
        var seen = Interlocked.Read(ref _lastCompletion);
        // Bounded: each failed exchange means another thread raised the maximum.
        while (timestamp > seen)
        {
            var previous = Interlocked.CompareExchange(ref _lastCompletion, timestamp, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    private long ActiveTicks(long start)
    {
        var last = Interlocked.Read(ref _lastCompletion);
        return last == long.MinValue ? 0 : last - start;
    }
}

/// <summary>Engine limits.</summary>
public sealed record StageRunnerOptions
{
    /// <summary>Requests in flight beyond this are not sent and count as <c>dropped</c> errors (default 20,000).</summary>
    public int MaxInFlight { get; init; } = 20_000;

    /// <summary>How long after the stage end to wait for requests still in flight (default 3 s, above the request timeout).</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(3);
}
