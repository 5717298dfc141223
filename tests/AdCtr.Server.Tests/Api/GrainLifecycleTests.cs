using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Api;

/// <summary>Campaign grains in the real server: deactivated by Orleans, stored, and brought back by the next prediction.</summary>
public sealed class GrainLifecycleTests
{
    private const string Line = """{"context":{"user_age":"25-34","device":"mobile"},"adId":"a1","campaignId":"c1","features":{"ad_category":"shoes"},"label":1}""";
    private const string Request = """{"context":{"user_age":"25-34","device":"mobile"},"candidates":[{"adId":"a1","campaignId":"c1","features":{"ad_category":"shoes"}}]}""";

    [Fact]
    public async Task CampaignGrain_CollectedByOrleans_IsStoredAndReactivatedByThePredictionWithTheSameModel()
    {
        await using var server = await LoopbackServer.StartAsync();
        await server.PostNdjsonAsync("/v1/examples", string.Join('\n', Enumerable.Repeat(Line, 40)));
        var engine = server.Engine;
        Assert.Equal(1, engine.ActiveCampaignGrains);
        var before = (await server.PredictAsync(Request)).GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
        var summary = (await engine.GetCampaignAsync("c1"))!;

        // Orleans' activation collection (forced: every grain idle for at least 0 s) deactivates it; it stores its state.
        await server.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(0, engine.ActiveCampaignGrains);
        Assert.True(engine.Storage!.Contains("c1"));
        Assert.Equal(1, engine.KnownCampaigns);

        // The next prediction activates it (one call) and is answered with the campaign's model, not the global one alone.
        var after = (await server.PredictAsync(Request)).GetProperty("predictions")[0].GetProperty("ctr").GetDouble();
        Assert.Equal(1, engine.ActiveCampaignGrains);
        Assert.Equal(before, after);
        Assert.Equal(summary, await engine.GetCampaignAsync("c1"));

        // And it keeps learning where it left off.
        await server.PostNdjsonAsync("/v1/examples", Line);
        Assert.Equal(41, (await engine.GetCampaignAsync("c1"))!.Examples);
    }
}
