using System.Net;
using System.Text.Json;
using AdCtr.Simulator.Drive;
using AdCtr.Server.Tests.Support;
using AdCtr.Simulator.Tests.World;

namespace AdCtr.Simulator.Tests.Drive;

public sealed class DriveRunnerTests
{
    /// <summary>As fast as possible (no pacing timer), bounded by the request count; the driver's clock stands still.</summary>
    private static DriveSettings Bounded(long requests) => new()
    {
        Rate = 0,
        MaxRequests = requests,
        MaxInFlight = 4,
        EventBatchSize = 64,
        Duration = TimeSpan.FromMinutes(1),
    };

    [Fact]
    public async Task RunAsync_AgainstServerWithFakeNegatives_CountsAgreeAndServerLearnedEveryEvent()
    {
        // fake-negative: every accepted impression is learned at once as a negative and every accepted click as a
        // positive, so the server's model version (examples learned) must equal the events accepted. Both clocks
        // stand still, so no attribution window runs out and no sweep expires anything.
        await using var server = await LoopbackServer.StartAsync("--AdCtr:Joiner:Policy=fake-negative");
        using var http = server.CreateClient();
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var runner = new DriveRunner(TestScenarios.World("stationary", seed: 7), http, Bounded(300), clock);

        var r = await runner.RunAsync();

        Assert.Equal(300, r.Sent);
        Assert.Equal(r.Sent, r.Served + r.ErrorCount);
        Assert.Equal(300, r.Served);
        Assert.Equal(r.Served, r.Quality.Impressions);
        Assert.Equal(r.Served, r.ImpressionsSent);
        Assert.Equal(r.Served, r.Latency.Count);
        Assert.InRange(r.Quality.Clicks, 0, r.Quality.Impressions);

        // stationary has no click delay: every click is sent with its impression.
        Assert.Equal(r.Quality.Clicks, r.ClicksSent);
        Assert.Equal(0, r.ClicksFlushedEarly);
        Assert.Equal(0, r.ClicksBeyondWindow);
        Assert.Equal(r.ImpressionsSent + r.ClicksSent, r.EventsAccepted);
        Assert.Empty(r.EventsRejected);
        Assert.Empty(r.EventsFailed);
        Assert.Equal(r.ImpressionsSent, r.EventNegatives);
        Assert.Equal(r.ClicksSent, r.EventPositives);
        Assert.True(r.Quality.Regret >= 0, "regret " + r.Quality.Regret);

        using var models = JsonDocument.Parse(await http.GetStringAsync("v1/models"));
        Assert.Equal(r.EventsAccepted, models.RootElement.GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task RunAsync_DelaysBeyondTheWindow_ClicksAreCountedNotSent()
    {
        // delayed-clicks draws a positive log-normal delay for every click; scaled by 1e9 each one is longer than
        // the 15-minute window, so none is sent and the server learns impressions only.
        await using var server = await LoopbackServer.StartAsync("--AdCtr:Joiner:Policy=fake-negative");
        using var http = server.CreateClient();
        var settings = Bounded(400) with { ClickDelayScale = 1e9 };
        var runner = new DriveRunner(TestScenarios.World("delayed-clicks", seed: 2), http, settings, new ManualClock(DateTimeOffset.UnixEpoch));

        var r = await runner.RunAsync();

        Assert.Equal(400, r.Served);
        Assert.Equal(r.Quality.Clicks, r.ClicksBeyondWindow);
        Assert.Equal(0, r.ClicksSent);
        Assert.Equal(r.ImpressionsSent, r.EventsAccepted);
        Assert.Equal(0, r.EventPositives);
    }

    [Fact]
    public async Task RunAsync_DelayedClicksWithFrozenClock_AreFlushedAtTheEndAndAccepted()
    {
        // The driver's clock stands still, so no delayed click falls due during the run: each one with a delay under
        // the window is sent at the end (flushed early), and the server, whose clock also stands still, accepts it.
        await using var server = await LoopbackServer.StartAsync("--AdCtr:Joiner:Policy=fake-negative");
        using var http = server.CreateClient();
        var runner = new DriveRunner(TestScenarios.World("delayed-clicks", seed: 2), http, Bounded(400), new ManualClock(DateTimeOffset.UnixEpoch));

        var r = await runner.RunAsync();

        Assert.Equal(0, r.ClicksOnTime);
        Assert.Equal(r.Quality.Clicks, r.ClicksFlushedEarly + r.ClicksBeyondWindow);
        Assert.Equal(r.ImpressionsSent + r.ClicksSent, r.EventsAccepted);
        Assert.Equal(r.ClicksSent, r.EventPositives);
    }

    [Fact]
    public async Task RunAsync_ServerAnswers503_EveryRequestIsAnHttpErrorAndNoEventIsPosted()
    {
        using var http = new HttpClient(new FixedHandler(HttpStatusCode.ServiceUnavailable, "{}")) { BaseAddress = new Uri("http://127.0.0.1:9/") };
        var runner = new DriveRunner(TestScenarios.World("stationary"), http, Bounded(25), new ManualClock(DateTimeOffset.UnixEpoch));

        var r = await runner.RunAsync();

        Assert.Equal(25, r.Sent);
        Assert.Equal(0, r.Served);
        Assert.Equal(25, r.Errors["http_503"]);
        Assert.Equal(0, r.EventPosts);
        Assert.Equal(0, r.Latency.Count);
    }

    [Fact]
    public async Task RunAsync_AnswerWithWrongPredictionCount_IsABadResponse()
    {
        using var http = new HttpClient(new FixedHandler(HttpStatusCode.OK, "{\"predictions\":[{\"ctr\":0.1,\"impressionId\":\"i1\"}]}")) { BaseAddress = new Uri("http://127.0.0.1:9/") };

        // stationary asks with 5 candidates per request (the world has 100 live campaigns), so one prediction is wrong.
        var runner = new DriveRunner(TestScenarios.World("stationary"), http, Bounded(10), new ManualClock(DateTimeOffset.UnixEpoch));

        var r = await runner.RunAsync();

        Assert.Equal(10, r.Errors["bad_response"]);
        Assert.Equal(0, r.Served);
    }

    private sealed class FixedHandler(HttpStatusCode status, string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body) });
    }
}
