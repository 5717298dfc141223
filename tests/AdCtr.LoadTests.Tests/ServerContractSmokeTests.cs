using AdCtr.LoadTests.Engine;
using AdCtr.LoadTests.Profiles;

namespace AdCtr.LoadTests.Tests;

/// <summary>The committed server profiles, run for real against a fake server that checks the HTTP contract.</summary>
public class ServerContractSmokeTests
{
    [Fact]
    public async Task MixedProfileSmoke_AgainstFakeServer_NoErrorsAndOnlyIssuedImpressionIds()
    {
        await using var server = await FakeAdCtrServer.StartAsync();
        var profile = LoadProfile.Load(Path.Combine(ProfileTests.ProfileDirectory(), "mixed.json"));
        // A smaller harvest and a 1 s smoke keep the test short; everything else is the committed profile.
        profile.Data.HarvestImpressions = 500;
        profile.Smoke.Seconds = 1;

        var report = await ScenarioRunner.RunAsync(profile, new Uri(server.Url), new ScenarioRunOptions { Smoke = true }, CancellationToken.None);

        Assert.Null(report.Error);
        var step = Assert.Single(report.Steps);
        // 40/s for 1 s: 40 requests, none failed; every event referred to an impression id the server issued.
        Assert.Equal(40, step.Requests);
        Assert.Equal(0, step.Errors);
        Assert.Equal(0, server.UnknownImpressionIds);
        // The mix over 4096 slots, 100 : 100 : 6 : 1: exact shares 1978.74, 1978.74, 118.72, 19.79; floors leave 3
        // slots, which go to the largest remainders: examples (0.79), then predict and impressions (0.74).
        Assert.Equal(new Dictionary<string, int> { ["clicks"] = 118, ["examples"] = 20, ["impressions"] = 1979, ["predict"] = 1979 }, report.Mix);
    }

    [Fact]
    public async Task EventsProfile_FeedAgainstFakeServer_BatchesOf100InTimeOrder()
    {
        await using var server = await FakeAdCtrServer.StartAsync();
        var profile = LoadProfile.Load(Path.Combine(ProfileTests.ProfileDirectory(), "events.json"));
        profile.Data.HarvestImpressions = 1000;
        using var transport = new AdCtr.LoadTests.Http.HttpLoadTransport(new Uri(server.Url), 4, TimeSpan.FromSeconds(5));

        var feed = await FeedBuilder.BuildAsync(profile, (r, ct) => transport.ExchangeAsync(HttpMethod.Post, r.Path, r, ct), DateTimeOffset.UtcNow, CancellationToken.None);

        // 1000 impressions in 100 predict calls of 10 candidates; impression events plus ~2 % clicks, 100 per batch.
        Assert.Equal(1000, server.Predictions);
        var previous = DateTimeOffset.MinValue;
        var impressions = 0;
        for (var i = 0; i < feed.Length; i++)
        {
            var lines = System.Text.Encoding.UTF8.GetString(feed[i].Body).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.InRange(lines.Length, 1, 100);
            foreach (var line in lines)
            {
                using var doc = System.Text.Json.JsonDocument.Parse(line);
                var at = doc.RootElement.GetProperty("timestamp").GetDateTimeOffset();
                Assert.True(at >= previous || i >= FirstWrap(feed), "events out of time order in the first pass");
                previous = at;
                if (doc.RootElement.GetProperty("type").GetString() == "impression" && i < FirstWrap(feed))
                {
                    impressions++;
                }
            }
        }

        Assert.Equal(1000, impressions);
    }

    /// <summary>Index where the cyclic reuse of the event batches starts (the first batch's body appears again).</summary>
    private static int FirstWrap(RequestFeed feed)
    {
        for (var i = 1; i < feed.Length; i++)
        {
            if (ReferenceEquals(feed[i].Body, feed[0].Body))
            {
                return i;
            }
        }

        return feed.Length;
    }
}
