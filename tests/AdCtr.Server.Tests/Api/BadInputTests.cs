using System.Net;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Api;

public sealed class BadInputTests
{
    private const string GoodCandidate = """{"adId":"a1","campaignId":"c1","features":{"ad_category":"shoes"}}""";
    private const string GoodExample = """{"context":{"user_age":"25-34"},"adId":"a1","campaignId":"c1","features":{"ad_category":"shoes"},"label":1}""";

    private static Task<LoopbackServer> Start() => LoopbackServer.StartAsync(
        "--AdCtr:Limits:MaxCandidates=3",
        "--AdCtr:Limits:MaxBatch=5",
        "--AdCtr:Limits:MaxBodyBytes=4096");

    private static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(text).RootElement;
        Assert.Equal((int)status, root.GetProperty("status").GetInt32());
        return root;
    }

    [Theory]
    [InlineData("{nope", "malformed JSON")]
    [InlineData("[1]", "must be a JSON object")]
    [InlineData("""{"candidates":"x"}""", "candidates must be an array")]
    [InlineData("""{"candidates":[]}""", "at least one candidate")]
    [InlineData("""{"context":{"user_age":"25-34"}}""", "at least one candidate")]
    [InlineData("""{"candidates":[{"adId":"a1"}]}""", "candidates[0].campaignId is required")]
    [InlineData("""{"candidates":[{"campaignId":"c1"}]}""", "candidates[0].adId is required")]
    [InlineData("""{"candidates":[{"adId":{},"campaignId":"c1"}]}""", "candidates[0].adId must be a string")]
    [InlineData("""{"candidates":[{"adId":"","campaignId":"c1"}]}""", "must be 1 to")]
    [InlineData("""{"context":[1],"candidates":[{"adId":"a","campaignId":"c"}]}""", "context must be an object")]
    [InlineData("""{"context":{"user_age":{"x":1}},"candidates":[{"adId":"a","campaignId":"c"}]}""", "values must be strings, numbers or booleans")]
    [InlineData("""{"candidates":[{"adId":"a","campaignId":"c","colour":"red"}]}""", "unknown member 'colour' in candidates[0]")]
    [InlineData("""{"candidatez":[]}""", "unknown member 'candidatez'")]
    [InlineData("""{"requestId":5,"candidates":[{"adId":"a","campaignId":"c"}]}""", "requestId must be a string")]
    [InlineData("""{"candidates":[{"adId":"a","campaignId":"c"}]} trailing""", "malformed JSON")]
    public async Task Predict_BadBody_Is400ProblemNamingTheProblem(string body, string expected)
    {
        await using var server = await Start();
        using var response = await server.PostJsonAsync("/v1/predict", body);
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Contains(expected, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_TooManyCandidates_Is400()
    {
        await using var server = await Start();
        using var response = await server.PostJsonAsync("/v1/predict", "{\"candidates\":[" + string.Join(',', Enumerable.Repeat(GoodCandidate, 4)) + "]}");
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Contains("too many candidates (the limit is 3)", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Predict_BodyOverTheLimit_Is413()
    {
        await using var server = await Start();
        var padding = new string('x', 5000);
        using var response = await server.PostJsonAsync("/v1/predict", "{\"requestId\":\"" + padding + "\",\"candidates\":[" + GoodCandidate + "]}");
        await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Predict_WrongContentType_Is415()
    {
        await using var server = await Start();
        using var response = await server.Client.PostAsync("/v1/predict", new StringContent("{}", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Theory]
    [InlineData("", "the batch is empty")]
    [InlineData("  \n \n", "the batch is empty")]
    [InlineData("[{\"label\":1", "malformed JSON array")]
    [InlineData("[1,2] x", "malformed JSON array")]
    public async Task Examples_BadBody_Is400AndLearnsNothing(string body, string expected)
    {
        await using var server = await Start();
        using var response = await server.PostJsonAsync("/v1/examples", body);
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Contains(expected, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, server.Engine.ExamplesLearned);
    }

    [Theory]
    [InlineData("""{"label":2,"adId":"a","campaignId":"c"}""", "label is not 0 or 1")]
    [InlineData("""{"label":"1","adId":"a","campaignId":"c"}""", "label is not 0 or 1")]
    [InlineData("""{"label":true,"adId":"a","campaignId":"c"}""", "label is not 0 or 1")]
    [InlineData("""{"adId":"a","campaignId":"c"}""", "missing label")]
    [InlineData("""{"label":1,"weight":-1,"adId":"a","campaignId":"c"}""", "weight is not a finite number > 0")]
    [InlineData("""{"label":1,"weight":0,"adId":"a","campaignId":"c"}""", "weight is not a finite number > 0")]
    [InlineData("""{"label":1,"weight":"NaN","adId":"a","campaignId":"c"}""", "weight is not a finite number > 0")]
    [InlineData("""{"label":1,"weight":1e400,"adId":"a","campaignId":"c"}""", "weight is not a finite number > 0")]
    [InlineData("""{"label":1,"weight":NaN,"adId":"a","campaignId":"c"}""", "invalid JSON")]
    [InlineData("""{"label":1,"timestamp":"yesterday","adId":"a","campaignId":"c"}""", "timestamp")]
    [InlineData("""{"label":1,"adId":"a"}""", "campaignId is required")]
    [InlineData("""{"label":1,"campaignId":"c"}""", "adId is required")]
    [InlineData("""{"label":1,"adId":"a","campaignId":"c","colour":1}""", "unknown member 'colour'")]
    [InlineData("""{"label":1,"adId":"a","campaignId":"c","context":5}""", "context is not an object")]
    [InlineData("""not json""", "invalid JSON")]
    public async Task Examples_EveryLineBad_Is400WithTheReasonAndLearnsNothing(string line, string expected)
    {
        await using var server = await Start();
        using var response = await server.PostNdjsonAsync("/v1/examples", line);
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        var rejected = problem.GetProperty("rejected")[0];
        Assert.Equal(1, rejected.GetProperty("line").GetInt64());
        Assert.Contains(expected, rejected.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, server.Engine.ExamplesLearned);
        Assert.Equal(0, server.Engine.KnownCampaigns);
    }

    [Fact]
    public async Task Examples_BatchOverTheLimit_Is400AndLearnsNothing()
    {
        await using var server = await Start();
        using var response = await server.PostNdjsonAsync("/v1/examples", string.Join('\n', Enumerable.Repeat(GoodExample, 6)));
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Contains("more than 5 examples", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, server.Engine.ExamplesLearned);
    }

    [Fact]
    public async Task Examples_BodyOverTheLimit_Is413AndLearnsNothing()
    {
        await using var server = await Start();
        using var response = await server.PostNdjsonAsync("/v1/examples", GoodExample + "\n" + GoodExample.Replace("\"a1\"", "\"" + new string('a', 5000) + "\"", StringComparison.Ordinal));
        await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(0, server.Engine.ExamplesLearned);
    }

    [Fact]
    public async Task Campaigns_BadPaging_Is400()
    {
        await using var server = await Start();
        await AssertProblem(await server.Client.GetAsync("/v1/campaigns?limit=0"), HttpStatusCode.BadRequest);
        await AssertProblem(await server.Client.GetAsync("/v1/campaigns?offset=-1"), HttpStatusCode.BadRequest);
        await AssertProblem(await server.Client.GetAsync("/v1/campaigns?limit=abc"), HttpStatusCode.BadRequest);
    }
}
