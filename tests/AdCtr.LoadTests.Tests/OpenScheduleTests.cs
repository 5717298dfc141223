using AdCtr.LoadTests.Engine;

namespace AdCtr.LoadTests.Tests;

public class OpenScheduleTests
{
    private const long Micros = 1_000_000;

    [Fact]
    public void Inject_100PerSecondFor1s_SendsEvery10msExactly()
    {
        var schedule = OpenSchedule.For(Simulation.Inject(100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)), Micros);

        Assert.Equal(100, schedule.Count);
        for (var i = 0; i < schedule.Count; i++)
        {
            Assert.Equal(i * 10_000L, schedule.OffsetTicks(i));
        }
    }

    [Fact]
    public void Inject_RateNotDividingTheInterval_FloorsEachTimeToATick()
    {
        // 3 per second: 0, 1/3 s, 2/3 s = 0, 333333.33, 666666.67 us, floored.
        var schedule = OpenSchedule.For(Simulation.Inject(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)), Micros);

        Assert.Equal(6, schedule.Count);
        Assert.Equal([0L, 333_333L, 666_666L, 1_000_000L, 1_333_333L, 1_666_666L], Enumerable.Range(0, 6).Select(schedule.OffsetTicks));
    }

    [Fact]
    public void Inject_PerIntervalRate_SpreadsRateOverTheInterval()
    {
        // 50 requests every 100 ms for 300 ms: 150 requests, 2 ms apart.
        var schedule = OpenSchedule.For(Simulation.Inject(50, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300)), Micros);

        Assert.Equal(150, schedule.Count);
        Assert.Equal(2_000L, schedule.OffsetTicks(1));
        Assert.Equal(298_000L, schedule.OffsetTicks(149));
    }

    [Fact]
    public void RampingInject_0To100Over1s_FollowsTheIntegratedRate()
    {
        // rate(t) = 100 t per s^2, so N(t) = 50 t^2: 50 requests, request i at sqrt(i / 50) s.
        var schedule = OpenSchedule.For(Simulation.RampingInject(0, 100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)), Micros);

        Assert.Equal(50, schedule.Count);
        Assert.Equal(0L, schedule.OffsetTicks(0));
        Assert.Equal(200_000L, schedule.OffsetTicks(2));
        Assert.Equal(400_000L, schedule.OffsetTicks(8));
        Assert.Equal(800_000L, schedule.OffsetTicks(32));
    }

    [Fact]
    public void RampingInject_EqualRates_MatchesInject()
    {
        var ramp = OpenSchedule.For(Simulation.RampingInject(40, 40, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)), Micros);

        Assert.Equal(40, ramp.Count);
        Assert.Equal(25_000L, ramp.OffsetTicks(1));
        Assert.Equal(975_000L, ramp.OffsetTicks(39));
    }

    [Fact]
    public void For_KeepConstant_Throws()
    {
        Assert.Throws<ArgumentException>(() => OpenSchedule.For(Simulation.KeepConstant(4, TimeSpan.FromSeconds(1)), Micros));
    }
}
