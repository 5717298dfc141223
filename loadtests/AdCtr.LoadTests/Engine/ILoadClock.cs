using System.Diagnostics;

namespace AdCtr.LoadTests.Engine;

/// <summary>
/// The time source of the load engine. The scheduler thread blocks in <see cref="WaitUntil"/>; tests use a
/// virtual clock whose waits advance time deterministically.
/// </summary>
public interface ILoadClock
{
    /// <summary>Ticks per second of <see cref="GetTimestamp"/>.</summary>
    long Frequency { get; }

    long GetTimestamp();

    /// <summary>Blocks the calling thread until <see cref="GetTimestamp"/> is at least <paramref name="timestamp"/>.</summary>
    void WaitUntil(long timestamp);
}

/// <summary>
/// <see cref="Stopwatch"/> time. Waits sleep, then optionally spin for the last <c>spinMicros</c>: sleeping
/// alone makes a send up to about one timer tick (~1 ms) late. Lateness is never hidden: latency is measured
/// from the intended time and the send lag is reported per step.
/// </summary>
public sealed class SystemLoadClock(int spinMicros = 0) : ILoadClock
{
    public long Frequency => Stopwatch.Frequency;

    public long GetTimestamp() => Stopwatch.GetTimestamp();

    public void WaitUntil(long timestamp)
    {
        var spinTicks = spinMicros * Stopwatch.Frequency / 1_000_000;
        while (true)
        {
            var remaining = timestamp - Stopwatch.GetTimestamp();
            if (remaining <= 0)
            {
                return;
            }

            if (remaining > spinTicks)
            {
                var sleepMs = (int)((remaining - spinTicks) * 1000 / Stopwatch.Frequency);
                Thread.Sleep(Math.Max(1, sleepMs));
            }
            else
            {
                Thread.SpinWait(64);
            }
        }
    }
}
