using System.Net;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Tests.Durability;
using AdCtr.Server.Tests.Storage;

namespace AdCtr.Server.Tests.Joiner;

/// <summary><c>POST /v1/events</c> over HTTP, and joined examples surviving a restart through the log.</summary>
public sealed class EventsApiTests
{
    [Fact]
    public async Task Events_ImpressionAndClick_LearnPositive_AndReplayAfterRestart()
    {
        using var dir = new TempDirectory();
        double[] before;
        await using (var server = await InProcessServer.StartAsync(dir.Path, ["--AdCtr:Durability:SnapshotOnShutdown=false"]))
        {
            var (_, _, ids) = await server.PredictAsync(ExampleData.Probe());
            var body = new StringBuilder()
                .Append("[{\"type\":\"impression\",\"impressionId\":\"").Append(ids[0]).Append("\"},")
                .Append("{\"type\":\"click\",\"impressionId\":\"").Append(ids[0]).Append("\",\"timestamp\":\"2026-01-05T12:00:00Z\"},")
                .Append("{\"type\":\"click\",\"impressionId\":\"").Append(ids[0]).Append("\"},")
                .Append("{\"type\":\"click\",\"impressionId\":\"").Append(ids[1]).Append("\"},")
                .Append("{\"type\":\"click\",\"impressionId\":\"i0123456789abcdef\"},")
                .Append("{\"type\":\"view\",\"impressionId\":\"").Append(ids[2]).Append("\"}]")
                .ToString();

            using var response = await server.Client.PostAsync("/v1/events", new StringContent(body, Encoding.UTF8, "application/json"));
            var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(2, root.GetProperty("accepted").GetInt32());
            Assert.Equal(1, root.GetProperty("positives").GetInt32());
            var rejected = root.GetProperty("rejected");
            Assert.Equal(1, rejected.GetProperty("duplicate").GetInt32());
            Assert.Equal(1, rejected.GetProperty("click_without_impression").GetInt32());
            Assert.Equal(1, rejected.GetProperty("unknown_impression").GetInt32());
            Assert.Equal(1, rejected.GetProperty("invalid").GetInt32());
            Assert.Equal(4, root.GetProperty("lines").GetArrayLength());
            var after = await server.PredictAsync(ExampleData.Probe());
            Assert.Equal(1, after.Version);
            before = after.Ctr;
        }

        // The positive is in the log as a joined-example record; with no snapshot, replay must decode it.
        await using var restarted = await InProcessServer.StartAsync(dir.Path);
        var replayed = await restarted.PredictAsync(ExampleData.Probe());

        Assert.Equal(1, restarted.Durability.LastRecovery!.ReplayedExamples);
        Assert.Equal(1, replayed.Version);
        Assert.Equal(before, replayed.Ctr);
    }

    [Fact]
    public async Task Events_EmptyOrMalformedBody_Is400ProblemJson()
    {
        using var dir = new TempDirectory();
        await using var server = await InProcessServer.StartAsync(dir.Path);

        using var empty = await server.Client.PostAsync("/v1/events", new StringContent("  \n", Encoding.UTF8, "application/x-ndjson"));
        using var broken = await server.Client.PostAsync("/v1/events", new StringContent("[{\"type\":", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
        Assert.Equal("application/problem+json", broken.Content.Headers.ContentType!.MediaType);
    }
}
