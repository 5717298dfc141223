using AdCtr.Server.Hosting;
using AdCtr.Server.Model;
using AdCtr.Server.Tests.Storage;

namespace AdCtr.Server.Tests.Model;

public sealed class CalibrationServiceTests
{
    private static void Feed(CalibrationService service, int count, ref int seen)
    {
        for (var i = 0; i < count; i++, seen++)
        {
            service.Record(0.01 + (0.9 * (seen % 97) / 97.0), seen % 3 == 0 ? 1 : 0, 1);
        }
    }

    [Fact]
    public async Task Record_RefitsEveryRefitEveryExamples_ButAtMostOncePerMinRefitInterval()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UnixEpoch);
        var service = new CalibrationService(new CalibrationOptions { Window = 1000, MinExamples = 100, RefitEvery = 160, MinRefitInterval = TimeSpan.FromSeconds(5) }, time);
        var seen = 0;

        Feed(service, 160, ref seen);
        Assert.Equal(1, service.RefitsStarted);
        await service.LastRefit;
        Assert.Equal(1, service.Fits);

        // Ten times RefitEvery more within the interval: no refit.
        Feed(service, 1600, ref seen);
        Assert.Equal(1, service.RefitsStarted);

        // Once the interval has passed, the next look (within RefitEvery / 16 examples) refits.
        time.Advance(TimeSpan.FromSeconds(5));
        Feed(service, 10, ref seen);
        Assert.Equal(2, service.RefitsStarted);
        await service.LastRefit;
        Assert.Equal(2, service.Fits);
    }

    [Fact]
    public async Task Record_WithoutAnInterval_RefitsEveryRefitEveryExamples()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UnixEpoch);
        var service = new CalibrationService(new CalibrationOptions { Window = 1000, MinExamples = 100, RefitEvery = 100, MinRefitInterval = TimeSpan.Zero }, time);
        var seen = 0;
        for (var k = 1; k <= 5; k++)
        {
            Feed(service, 100, ref seen);
            await service.LastRefit;
            Assert.Equal(k, service.RefitsStarted);
        }
    }
}
