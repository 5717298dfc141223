using AdCtr.Server.Model;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Api;

public sealed class GrainLifecycleTests
{
    private const string Line = """{"context":{"user_age":"25-34","device":"mobile"},"adId":"a1","campaignId":"c1","features":{"ad_category":"shoes"},"label":1}""";
    private const string Request = """{"context":{"user_age":"25-34","device":"mobile"},"candidates":[{"adId":"a1","campaignId":"c1","features":{"ad_category":"shoes"}}]}""";

    [Fact]
    public async Task CampaignGrain_IdleThenCalledAgain_IsDeactivatedStoredAndReactivatedWithTheSameState()
    {
        await using var server = await LoopbackServer.StartAsync("--AdCtr:Grains:IdleTimeout=00:05:00");
        await server.PostNdjsonAsync("/v1/examples", string.Join('\n', Enumerable.Repeat(Line, 40)));
        var runtime = server.Engine.Runtime;
        var grain = runtime.GetGrain<CampaignGrain>("c1");
        Assert.True(grain.IsActive);
        var before = (await server.PredictAsync(Request)).GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
        var coefficients = (await server.Engine.GetCampaignAsync("c1"))!.Coefficients;

        // Not idle long enough: nothing is collected.
        server.Clock.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(0, await runtime.CollectIdleAsync(CancellationToken.None));
        Assert.True(grain.IsActive);

        // Idle past the timeout (reads are noticed once per collection pass, so two passes): deactivated and stored.
        server.Clock.Advance(TimeSpan.FromMinutes(6));
        await runtime.CollectIdleAsync(CancellationToken.None);
        server.Clock.Advance(TimeSpan.FromMinutes(6));
        await runtime.CollectIdleAsync(CancellationToken.None);
        Assert.False(grain.IsActive);
        Assert.True(server.Engine.Store.Contains("c1"));
        Assert.Equal(1, runtime.GetStatistics().Deactivations);

        // The next prediction reactivates it from storage with the same model.
        var after = (await server.PredictAsync(Request)).GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
        Assert.True(grain.IsActive);
        Assert.Equal(before, after);
        Assert.Equal(coefficients, (await server.Engine.GetCampaignAsync("c1"))!.Coefficients);
        Assert.Equal(40, (await server.Engine.GetCampaignAsync("c1"))!.Examples);

        // And it keeps learning where it left off.
        await server.PostNdjsonAsync("/v1/examples", Line);
        Assert.Equal(41, (await server.Engine.GetCampaignAsync("c1"))!.Examples);
    }
}
