using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace AdCtr.Grains.Tests.Runtime;

/// <summary>A [Fact] that only runs when ADCTR_MANUAL_TIMING=1 (timings are printed, never asserted).</summary>
public sealed class ManualTimingFactAttribute : FactAttribute
{
    public ManualTimingFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("ADCTR_MANUAL_TIMING") != "1")
        {
            Skip = "Manual timing run: set ADCTR_MANUAL_TIMING=1 (see src/AdCtr.Grains/README.md).";
        }
    }
}

/// <summary>
/// Stopwatch measurements of the turn and read paths, run by hand:
/// <c>ADCTR_MANUAL_TIMING=1 dotnet test tests/AdCtr.Grains.Tests -c Release --filter "FullyQualifiedName~GrainRuntimeTimingTests" --logger "console;verbosity=detailed"</c>.
/// The assertions only check that every operation ran (exact counts).
/// </summary>
public sealed class GrainRuntimeTimingTests(ITestOutputHelper output)
{
    private const int Operations = 1_000_000;

    [ManualTimingFact]
    public async Task Timing_TurnAndReadPaths_Printed()
    {
        // The real clock: the read path reads it once per call.
        await using var fixture = new RuntimeFixture(systemTime: TimeProvider.System);
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);
        long expected = 1;

        // 1. Post from one thread, then one awaited turn: enqueue + execute cost per turn (batched drain).
        for (var round = 0; round < 3; round++)
        {
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < Operations; i++)
            {
                grain.Post(0, static (g, _) => g.Increment());
            }

            var enqueueElapsed = watch.Elapsed;
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            var count = await grain.InvokeAsync(static g => new ValueTask<long>(g.Count));
            watch.Stop();
            expected += Operations;
            Assert.Equal(expected, count);
            Report("post x1M (1 producer), enqueue only", enqueueElapsed, Operations, allocated);
            Report("post x1M (1 producer), enqueue + execute", watch.Elapsed, Operations, allocated);
        }

        // 2. Post from two producers to the same grain.
        {
            var watch = Stopwatch.StartNew();
            var producers = new Task[2];
            for (var p = 0; p < producers.Length; p++)
            {
                producers[p] = Task.Run(() =>
                {
                    for (var i = 0; i < Operations / 2; i++)
                    {
                        grain.Post(0, static (g, _) => g.Increment());
                    }
                });
            }

            await Task.WhenAll(producers);
            var count = await grain.InvokeAsync(static g => new ValueTask<long>(g.Count));
            watch.Stop();
            expected += Operations;
            Assert.Equal(expected, count);
            Report("post x1M (2 producers), enqueue + execute", watch.Elapsed, Operations, allocated: -1);
        }

        // 3. Awaited InvokeAsync one at a time: the round-trip latency of a turn (two thread-pool hops).
        {
            const int Calls = 100_000;
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < Calls; i++)
            {
                await RuntimeFixture.IncrementAsync(grain);
            }

            watch.Stop();
            expected += Calls;
            Assert.Equal(expected, grain.Read(static g => g.Count));
            Report("InvokeAsync awaited one at a time", watch.Elapsed, Calls, allocated: -1);
        }

        // 4. Synchronous read of an active grain (the predict path).
        for (var round = 0; round < 3; round++)
        {
            long sum = 0;
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < Operations * 10; i++)
            {
                sum += fixture.Runtime.GetGrain<CounterGrain>(1).Read(0, static (g, _) => g.Count);
            }

            watch.Stop();
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            Assert.Equal(expected * Operations * 10, sum);
            Report("Read (GetGrain + read, active grain)", watch.Elapsed, Operations * 10, allocated);
        }

        // 5. Posts spread over 1,000 grains (one producer).
        {
            for (var key = 100; key < 1100; key++)
            {
                await RuntimeFixture.IncrementAsync(fixture.Counter(key));
            }

            var watch = Stopwatch.StartNew();
            for (var i = 0; i < Operations; i++)
            {
                fixture.Counter(100 + (i % 1000)).Post(0, static (g, _) => g.Increment());
            }

            long total = 0;
            for (var key = 100; key < 1100; key++)
            {
                total += await fixture.Counter(key).InvokeAsync(static g => new ValueTask<long>(g.Count));
            }

            watch.Stop();
            Assert.Equal(1000 + Operations, total);
            Report("post x1M over 1,000 grains, enqueue + execute", watch.Elapsed, Operations, allocated: -1);
        }

        output.WriteLine("machine: " + Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture) + " cores, " +
            System.Runtime.InteropServices.RuntimeInformation.OSDescription + ", " + System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
    }

    private void Report(string what, TimeSpan elapsed, int operations, long allocated)
    {
        var ns = elapsed.TotalNanoseconds / operations;
        var line = what + ": " + ns.ToString("F1", CultureInfo.InvariantCulture) + " ns/op";
        if (allocated >= 0)
        {
            line += ", " + ((double)allocated / operations).ToString("F1", CultureInfo.InvariantCulture) + " B/op allocated by the caller";
        }

        output.WriteLine(line);
    }
}
