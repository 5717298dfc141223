using System.Diagnostics.Metrics;
using AdCtr.Grains.Runtime;

namespace AdCtr.Grains.Tests.Runtime;

public sealed class GrainRuntimeStatisticsTests
{
    [Fact]
    public async Task GetStatistics_Scenario_CountsAreExact()
    {
        await using var fixture = new RuntimeFixture();
        fixture.Probe.FailActivations = 1;
        // 1 failed activation (its turn fails), then grains 1..3 active with 1, 2, 3 increments.
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await RuntimeFixture.IncrementAsync(fixture.Counter(1)));
        for (var key = 1; key <= 3; key++)
        {
            for (var i = 0; i < key; i++)
            {
                await RuntimeFixture.IncrementAsync(fixture.Counter(key));
            }
        }

        // One failing turn on grain 2.
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await fixture.Counter(2).InvokeAsync(0, static (g, _) => new ValueTask<long>(g.Throw())));
        // Grain 3 is collected after idling; grains 1 and 2 are kept busy by a later turn.
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        await RuntimeFixture.IncrementAsync(fixture.Counter(1));
        await RuntimeFixture.IncrementAsync(fixture.Counter(2));
        Assert.Equal(1, await fixture.Runtime.CollectIdleAsync());

        // Grain 1: a blocked turn and two queued behind it.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var grain1 = fixture.Counter(1);
        var blocked = grain1.InvokeAsync(g => g.SetAndBlockAsync(0, started, release.Task)).AsTask();
        await started.Task;
        var queued1 = RuntimeFixture.IncrementAsync(grain1).AsTask();
        var queued2 = RuntimeFixture.IncrementAsync(grain1).AsTask();

        var statistics = fixture.Runtime.GetStatistics();
        Assert.Equal(
            new GrainRuntimeStatistics(
                ActivationCount: 2,
                ActivationsCreated: 3,
                ActivationFailures: 1,
                Deactivations: 1,
                DeactivationFailures: 0,
                // 1 + 2 + 3 increments, 1 throwing turn, 2 later increments; the blocked turn has not finished.
                TurnsExecuted: 9,
                // The turn of the failed activation and the throwing turn.
                FailedTurns: 2,
                QueueLength: 3,
                MaxQueueLength: 3),
            statistics);
        Assert.Equal(statistics, fixture.Runtime.GetStatistics<CounterGrain>());
        Assert.Equal(default, fixture.Runtime.GetStatistics<EchoGrain>());
        Assert.Equal(3, grain1.QueueLength);
        Assert.Equal(0, fixture.Counter(2).QueueLength);

        release.SetResult();
        await Task.WhenAll(blocked, queued1, queued2);
        statistics = fixture.Runtime.GetStatistics();
        Assert.Equal(12, statistics.TurnsExecuted);
        Assert.Equal(0, statistics.QueueLength);
        Assert.Equal(0, statistics.MaxQueueLength);
    }

    [Fact]
    public async Task Meter_Instruments_ReportSnapshotTaggedByGrainTypeOnly()
    {
        using var meter = new Meter("AdCtr.Grains.Tests." + nameof(Meter_Instruments_ReportSnapshotTaggedByGrainTypeOnly));
        var time = new ManualTimeProvider();
        var runtime = new GrainRuntime(new MemoryGrainStorage(), new GrainRuntimeOptions { CollectionInterval = Timeout.InfiniteTimeSpan }, time, meter);
        var probe = new GrainProbe();
        runtime.RegisterGrainType(_ => new CounterGrain(probe), new GrainTypeOptions { Name = "counter" });
        runtime.RegisterGrainType(_ => new EchoGrain(), new GrainTypeOptions { Name = "echo" });
        for (var key = 1; key <= 2; key++)
        {
            await runtime.GetGrain<CounterGrain>(key).InvokeAsync(0, static (g, _) => new ValueTask<long>(g.Increment()));
        }

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await runtime.GetGrain<CounterGrain>(1).InvokeAsync(0, static (g, _) => new ValueTask<long>(g.Throw())));

        var measurements = new List<(string Instrument, string? Unit, long Value, KeyValuePair<string, object?>[] Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            measurements.Add((instrument.Name, instrument.Unit, value, tags.ToArray())));
        listener.Start();
        listener.RecordObservableInstruments();

        long Value(string name, string type) =>
            Assert.Single(measurements, m => m.Instrument == name && (string?)m.Tags[0].Value == type).Value;

        Assert.Equal(2, Value(GrainRuntimeMetrics.Activations, "counter"));
        Assert.Equal(0, Value(GrainRuntimeMetrics.Activations, "echo"));
        Assert.Equal(2, Value(GrainRuntimeMetrics.ActivationsCreated, "counter"));
        Assert.Equal(3, Value(GrainRuntimeMetrics.Turns, "counter"));
        Assert.Equal(1, Value(GrainRuntimeMetrics.FailedTurns, "counter"));
        Assert.Equal(0, Value(GrainRuntimeMetrics.QueueLength, "counter"));
        Assert.Equal(0, Value(GrainRuntimeMetrics.Deactivations, "counter"));
        // Nine instruments, one measurement per grain type each, each with the one grain-type tag.
        Assert.Equal(9 * 2, measurements.Count);
        Assert.All(measurements, m => Assert.Equal(GrainRuntimeMetrics.GrainTypeTag, Assert.Single(m.Tags).Key));
        Assert.Equal("{activation}", measurements.First(m => m.Instrument == GrainRuntimeMetrics.Activations).Unit);
        Assert.Equal("{turn}", measurements.First(m => m.Instrument == GrainRuntimeMetrics.Turns).Unit);

        await runtime.StopAsync();
    }
}
