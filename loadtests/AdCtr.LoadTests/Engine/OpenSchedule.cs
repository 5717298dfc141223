namespace AdCtr.LoadTests.Engine;

/// <summary>
/// The intended send times of an open-model stage, as tick offsets from the stage start. Request i is due at
/// <see cref="OffsetTicks"/>(i) whether or not earlier requests have completed; its latency is measured from
/// that time, so time spent queueing behind a slow server is counted (no coordinated omission, as in wrk2).
/// </summary>
public readonly struct OpenSchedule
{
    private readonly double _fromPerTick;
    private readonly double _accelPerTick2;
    private readonly long _intervalTicks;
    private readonly int _rate;
    private readonly bool _constant;

    private OpenSchedule(int count, long durationTicks, bool constant, int rate, long intervalTicks, double fromPerTick, double accelPerTick2)
    {
        Count = count;
        DurationTicks = durationTicks;
        _constant = constant;
        _rate = rate;
        _intervalTicks = intervalTicks;
        _fromPerTick = fromPerTick;
        _accelPerTick2 = accelPerTick2;
    }

    /// <summary>Number of requests in the stage.</summary>
    public int Count { get; }

    public long DurationTicks { get; }

    public static OpenSchedule For(LoadSimulation simulation, long frequency)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frequency);
        var during = ToTicks(simulation.During, frequency);
        switch (simulation)
        {
            case Inject inject:
            {
                var interval = ToTicks(inject.Interval, frequency);
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(interval);
                ArgumentOutOfRangeException.ThrowIfNegative(inject.Rate);
                // count = rate * during / interval, exact in integers.
                var count = (long)((Int128)inject.Rate * during / interval);
                return new OpenSchedule(CheckedCount(count), during, constant: true, inject.Rate, interval, 0, 0);
            }
            case RampingInject ramp:
            {
                var interval = ToTicks(ramp.Interval, frequency);
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(interval);
                ArgumentOutOfRangeException.ThrowIfNegative(ramp.FromRate);
                ArgumentOutOfRangeException.ThrowIfNegative(ramp.Rate);
                // rate(t) = (r0 + (r1 - r0) t / D) / I requests per tick; N(t) = (r0 t + (r1 - r0) t^2 / 2D) / I.
                var from = (double)ramp.FromRate / interval;
                var accel = during == 0 ? 0 : (double)(ramp.Rate - ramp.FromRate) / interval / (2.0 * during);
                var count = (long)Math.Floor(((double)ramp.FromRate + ramp.Rate) * during / (2.0 * interval) + 1e-9);
                return new OpenSchedule(CheckedCount(count), during, constant: false, 0, interval, from, accel);
            }
            default:
                throw new ArgumentException("Only Inject and RampingInject are open-model simulations.", nameof(simulation));
        }
    }

    /// <summary>Intended send time of request <paramref name="index"/>, in ticks after the stage start.</summary>
    public long OffsetTicks(int index)
    {
        if (_constant)
        {
            // t_i = i * interval / rate, floored to a tick: exact integer arithmetic.
            return (long)((Int128)index * _intervalTicks / _rate);
        }

        // Solve N(t) = i, i.e. a t^2 + b t - i = 0, in the cancellation-free form t = 2i / (b + sqrt(b^2 + 4ai)).
        if (index == 0)
        {
            return 0;
        }

        var b = _fromPerTick;
        var a = _accelPerTick2;
        var t = 2.0 * index / (b + Math.Sqrt(b * b + 4.0 * a * index));
        return (long)Math.Round(t);
    }

    private static long ToTicks(TimeSpan span, long frequency) => (long)((Int128)span.Ticks * frequency / TimeSpan.TicksPerSecond);

    private static int CheckedCount(long count) =>
        count is < 0 or > 50_000_000 ? throw new ArgumentOutOfRangeException(nameof(count), count, "A stage may hold at most 50,000,000 requests.") : (int)count;
}
