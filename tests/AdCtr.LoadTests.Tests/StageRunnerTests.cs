using AdCtr.LoadTests.Engine;

namespace AdCtr.LoadTests.Tests;

public class StageRunnerTests
{
    private static readonly RequestFeed Feed = new([new LoadRequest("predict", "/v1/predict", "application/json", [1])]);

    private static Task<StageSamples> Run(VirtualClock clock, ILoadTransport transport, LoadSimulation simulation) =>
        // Off the test thread, so no synchronisation context defers the continuations the virtual clock runs inline.
        Task.Run(() => new StageRunner(clock, transport, Feed, new StageRunnerOptions { DrainTimeout = TimeSpan.FromSeconds(5) })
            .Run(simulation, null, CancellationToken.None));

    [Fact]
    public async Task OpenModel_FastServer_SendsAtTheIntendedTimes()
    {
        var clock = new VirtualClock();
        var transport = new SingleServerTransport(clock, serviceTicks: 1_000);

        var samples = await Run(clock, transport, Simulation.Inject(100, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200)));

        // 100/s for 200 ms: 20 requests, one every 10,000 us from t = 0; each takes 1 ms on an idle server.
        Assert.Equal(Enumerable.Range(0, 20).Select(i => i * 10_000L), transport.SendTimes);
        Assert.All(samples.LatencyTicks, l => Assert.Equal(1_000L, l));
        Assert.All(samples.SendLagTicks, l => Assert.Equal(0L, l));
        Assert.All(samples.Codes, c => Assert.Equal(200, c));
    }

    [Fact]
    public async Task OpenModel_ServerSlowerThanTheRate_CountsQueueingInLatency()
    {
        var clock = new VirtualClock();
        var transport = new SingleServerTransport(clock, serviceTicks: 10_000);

        var samples = await Run(clock, transport, Simulation.Inject(200, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(100)));

        // Arrivals every 5 ms, 10 ms of work each: request k is intended at 5k ms and completes at 10(k + 1) ms,
        // so its latency is 10 + 5k ms. A closed-loop tool would report 10 ms for every request.
        Assert.Equal(20, samples.Count);
        for (var k = 0; k < samples.Count; k++)
        {
            Assert.Equal(10_000L + 5_000L * k, samples.LatencyTicks[k]);
        }

        // Offered 200/s; the worker serves 100/s: the last of the 20 answers comes at 200 ms, so 20 / 0.2 s = 100/s.
        var stats = StepStats.From(samples, "step");
        Assert.Equal(200.0, stats.OfferedRate, 9);
        Assert.Equal(100.0, stats.AchievedRate, 9);
    }

    [Fact]
    public async Task OpenModel_LateGenerator_LatencyIncludesTheLagButServiceTimeDoesNot()
    {
        var clock = new VirtualClock { NextWaitOvershoot = 3_000 };
        var transport = new SingleServerTransport(clock, serviceTicks: 1_000);

        var samples = await Run(clock, transport, Simulation.Inject(10, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(300)));

        // Request 0 is due at t = 0 without a wait; the first wait (for request 1, due at 100 ms) overshoots by 3 ms.
        Assert.Equal([0L, 103_000L, 200_000L], transport.SendTimes);
        Assert.Equal([0L, 3_000L, 0L], samples.SendLagTicks);
        Assert.Equal([1_000L, 4_000L, 1_000L], samples.LatencyTicks);
        Assert.Equal([1_000L, 1_000L, 1_000L], samples.ServiceTicks);
    }

    [Fact]
    public async Task ClosedModel_OneUser_SendsBackToBackAndMeasuresFromTheSend()
    {
        var clock = new VirtualClock();
        var transport = new SingleServerTransport(clock, serviceTicks: 10_000);

        var samples = await Run(clock, transport, Simulation.KeepConstant(1, TimeSpan.FromMilliseconds(100)));

        // One user, 10 ms per request, 100 ms: requests sent at 0, 10, ..., 90 ms, each 10 ms long.
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i * 10_000L), transport.SendTimes);
        Assert.Equal(10, samples.Count);
        Assert.All(samples.LatencyTicks, l => Assert.Equal(10_000L, l));
    }

    [Fact]
    public async Task ClosedModel_TwoUsersOneWorker_EachWaitsForTheOther()
    {
        var clock = new VirtualClock();
        var transport = new SingleServerTransport(clock, serviceTicks: 10_000);

        var samples = await Run(clock, transport, Simulation.KeepConstant(2, TimeSpan.FromMilliseconds(100)));

        // Two users share one 10 ms worker, so the worker finishes a request every 10 ms. The first request takes
        // 10 ms; every later one finds the other user's request ahead of it: 20 ms. Sends at 0, 0, 10, ..., 90 ms
        // (a user stops once a response arrives at or after 100 ms): 11 requests, the last completing at 110 ms.
        Assert.Equal(11, samples.Count);
        Assert.Equal(10_000L, samples.LatencyTicks.Min());
        Assert.Equal(10, samples.LatencyTicks.Count(l => l == 20_000L));
    }

    [Fact]
    public async Task OpenModel_InFlightCapReached_DropsAndCountsThem()
    {
        var clock = new VirtualClock();
        var transport = new SingleServerTransport(clock, serviceTicks: 1_000_000);
        var runner = new StageRunner(clock, transport, Feed, new StageRunnerOptions { MaxInFlight = 3, DrainTimeout = TimeSpan.FromSeconds(10) });

        var samples = await Task.Run(() => runner.Run(Simulation.Inject(10, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)), null, CancellationToken.None));

        // 1 s of work per request, 100 ms apart: the first 3 fill the cap; the worker finishes request 0 at 1 s,
        // after all 10 were due, so the other 7 are dropped.
        Assert.Equal(3, samples.Codes.Count(c => c == 200));
        Assert.Equal(7, samples.Codes.Count(c => c == Outcome.Dropped));
    }
}
