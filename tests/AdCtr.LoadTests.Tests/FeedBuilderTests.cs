using System.Text.Json;
using AdCtr.LoadTests.Profiles;

namespace AdCtr.LoadTests.Tests;

public class FeedBuilderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Allocate_MixedWeights_UsesLargestRemainder()
    {
        MixEntry[] mix = [new() { Kind = "predict", Weight = 100 }, new() { Kind = "impressions", Weight = 100 }, new() { Kind = "clicks", Weight = 6 }, new() { Kind = "examples", Weight = 1 }];

        var counts = FeedBuilder.Allocate(mix, 2048);

        // Exact shares of 2048: 989.37, 989.37, 59.36, 9.89 -> floors 989, 989, 59, 9 (2046); the 2 left go to the
        // largest remainders: 0.89 (examples) then 0.37 (predict, the earlier of the tie).
        Assert.Equal([990, 989, 59, 10], counts);
    }

    [Fact]
    public void Allocate_TinyWeight_GetsAtLeastOneSlot()
    {
        MixEntry[] mix = [new() { Kind = "predict", Weight = 10_000 }, new() { Kind = "examples", Weight = 1 }];

        Assert.Equal([9, 1], FeedBuilder.Allocate(mix, 10));
    }

    [Fact]
    public async Task BuildAsync_SameSeed_SameBytes()
    {
        var profile = Profile([new MixEntry { Kind = "predict", Candidates = 5 }]);

        var a = await FeedBuilder.BuildAsync(profile, null, Now, CancellationToken.None);
        var b = await FeedBuilder.BuildAsync(profile, null, Now, CancellationToken.None);

        Assert.Equal(64, a.Length);
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i].Body, b[i].Body);
        }
    }

    [Fact]
    public async Task BuildAsync_Predict50_BodiesAreValidWithFiftyCandidates()
    {
        var feed = await FeedBuilder.BuildAsync(Profile([new MixEntry { Kind = "predict", Candidates = 50 }]), null, Now, CancellationToken.None);

        var distinctUsers = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < feed.Length; i++)
        {
            using var doc = JsonDocument.Parse(feed[i].Body);
            Assert.Equal(50, doc.RootElement.GetProperty("candidates").GetArrayLength());
            Assert.Equal("/v1/predict", feed[i].Path);
            distinctUsers.Add(doc.RootElement.GetProperty("context").GetProperty("user_id").GetString()!);
        }

        // 64 draws from 20,000 users: the chance of fewer than 60 distinct is negligible, and the seed is fixed anyway.
        Assert.True(distinctUsers.Count >= 60, distinctUsers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task BuildAsync_Examples_AreNdjsonLinesWithBinaryLabels()
    {
        var feed = await FeedBuilder.BuildAsync(Profile([new MixEntry { Kind = "examples", Batch = 1000 }], pool: 2), null, Now, CancellationToken.None);

        var lines = System.Text.Encoding.UTF8.GetString(feed[0].Body).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1000, lines.Length);
        Assert.Equal("application/x-ndjson", feed[0].ContentType);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            Assert.Contains(doc.RootElement.GetProperty("label").GetInt32(), new[] { 0, 1 });
            Assert.Equal(1.0, doc.RootElement.GetProperty("weight").GetDouble());
        }
    }

    [Fact]
    public async Task BuildAsync_Mixed_UsesHarvestedImpressionIdsForEvents()
    {
        var calls = 0;
        Task<(int, byte[])> Setup(AdCtr.LoadTests.Engine.LoadRequest request, CancellationToken ct)
        {
            // A fake server: ten predictions per call, ids "imp<call>_<k>", ctr decreasing with k.
            using var doc = JsonDocument.Parse(request.Body);
            var n = Interlocked.Increment(ref calls);
            var predictions = doc.RootElement.GetProperty("candidates").EnumerateArray().Select((c, k) => new
            {
                adId = c.GetProperty("adId").GetString(),
                campaignId = c.GetProperty("campaignId").GetString(),
                ctr = 0.1 - k * 0.001,
                impressionId = "imp" + n + "_" + k,
            }).ToArray();
            return Task.FromResult((200, JsonSerializer.SerializeToUtf8Bytes(new { requestId = "x", modelVersion = "1", predictions })));
        }

        var profile = Profile([new MixEntry { Kind = "predict", Weight = 100, Candidates = 10 }, new MixEntry { Kind = "impressions", Weight = 100, Batch = 3 },
            new MixEntry { Kind = "clicks", Weight = 6 }], pool: 206, harvest: 200);
        var feed = await FeedBuilder.BuildAsync(profile, Setup, Now, CancellationToken.None);

        // 200 impressions at 10 per call: 20 predict calls. Slots: 100, 100, 6.
        Assert.Equal(20, calls);
        Assert.Equal(new Dictionary<string, int> { ["clicks"] = 6, ["impressions"] = 100, ["predict"] = 100 }, feed.KindCounts());
        for (var i = 0; i < feed.Length; i++)
        {
            if (feed[i].Kind != "impressions")
            {
                continue;
            }

            // The top 3 by ctr are candidates 0, 1, 2 of some call.
            var lines = System.Text.Encoding.UTF8.GetString(feed[i].Body).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length);
            Assert.All(lines, l => Assert.Matches("\"type\":\"impression\",\"impressionId\":\"imp[0-9]+_[012]\"", l));
        }
    }

    private static LoadProfile Profile(IReadOnlyList<MixEntry> mix, int pool = 64, int harvest = 100) => new()
    {
        Name = "t",
        Seed = 11,
        Mix = mix,
        Data = new DataSpec { PoolSize = pool, HarvestImpressions = harvest },
    };
}
