using System.Net;
using System.Text.Json;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Api;

/// <summary>A campaign grain that cannot be activated: the requests that need it answer 503 with Retry-After, nothing else breaks.</summary>
public sealed class GrainFailureTests
{
    private const string Line = """{"context":{"user_age":"25-34","device":"mobile"},"adId":"a1","campaignId":"c1","features":{"ad_category":"shoes"},"label":1}""";
    private const string Other = """{"context":{"user_age":"25-34","device":"mobile"},"adId":"a2","campaignId":"c2","label":0}""";
    private const string Request = """{"context":{"user_age":"25-34","device":"mobile"},"candidates":[{"adId":"a1","campaignId":"c1","features":{"ad_category":"shoes"}}]}""";

    [Fact]
    public async Task StoredStateUnreadable_ExamplesAndPredictAnswer503RetryAfter_AndNothingIsAcknowledged()
    {
        await using var server = await LoopbackServer.StartAsync();
        await server.PostNdjsonAsync("/v1/examples", Line + "\n" + Line);
        await server.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(0, server.Engine.ActiveCampaignGrains);
        await File.WriteAllBytesAsync(server.Engine.Storage!.PathOf("c1"), [9, 9, 9]); // the stored model is now unreadable
        var version = server.Engine.ExamplesLearned;

        using var learn = await server.PostNdjsonAsync("/v1/examples", Line + "\n" + Other);
        await AssertUnavailableAsync(learn);
        Assert.Equal(version, server.Engine.ExamplesLearned); // the batch was not acknowledged as learned

        using var predict = await server.PostJsonAsync("/v1/predict", Request);
        await AssertUnavailableAsync(predict); // never answered with the global model alone

        // Other campaigns are served, and the campaign comes back once its state is readable again.
        using var fine = await server.PostNdjsonAsync("/v1/examples", Other);
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        File.Delete(server.Engine.Storage.PathOf("c1"));
        using var again = await server.PostJsonAsync("/v1/predict", Request);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    private static async Task AssertUnavailableAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Contains("campaign", JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
