using System.Net;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Storage;
using AdCtr.Server.Tests.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AdCtr.Server.Tests.Durability;

/// <summary>
/// A full disk and I/O errors under the real server, injected through the storage file-system seam (so they run
/// on any machine): clear answers (507/503 with Retry-After and a problem detail naming the cause), nothing of a
/// refused batch acknowledged or learned, readiness down and back, predictions served, faults counted, recovery
/// without a restart, and snapshots that fail without harming the previous one.
/// </summary>
public sealed class StorageFaultTests
{
    private const int BatchSize = ExampleData.DefaultBatchSize;

    /// <summary>The probe timer is pushed out of the way (1 h) so that only the test decides when to probe.</summary>
    private static readonly string[] Settings = ["--AdCtr:Durability:StorageProbeInterval=01:00:00", "--AdCtr:Durability:SnapshotOnShutdown=false"];

    private static Action<IServiceCollection> Inject(FaultInjectingFileSystem fs, TimeProvider? time = null) => services =>
    {
        services.RemoveAll<StorageFileSystem>();
        services.AddSingleton<StorageFileSystem>(fs);
        if (time is not null)
        {
            services.RemoveAll<TimeProvider>();
            services.AddSingleton(time);
        }
    };

    private static Task<HttpResponseMessage> PostAsync(InProcessServer server, string path, string ndjson) =>
        server.Client.PostAsync(path, new StringContent(ndjson, Encoding.UTF8, "application/x-ndjson"));

    private static async Task<(HttpStatusCode Status, string? Reason)> ReadyAsync(InProcessServer server)
    {
        using var response = await server.Client.GetAsync("/health/ready");
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (response.StatusCode, root.GetProperty("reason").GetString());
    }

    private static async Task<string> MetricsAsync(InProcessServer server) => await server.Client.GetStringAsync("/metrics");

    /// <summary>Checks a 507/503 answer: status, Retry-After, problem+json with a detail naming the cause.</summary>
    private static async Task<string> AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string cause)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, response.StatusCode + ": " + body);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(3600, (int)response.Headers.RetryAfter!.Delta!.Value.TotalSeconds); // the probe interval
        var detail = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString()!;
        Assert.Contains(cause, detail, StringComparison.Ordinal);
        Assert.Contains("nothing of this batch was stored or learned", detail, StringComparison.Ordinal);
        return detail;
    }

    [Fact]
    public async Task PostExamples_DiskFull_507NothingLearned_ReadyDownLiveUpPredictionsServed_ThenFreedSucceedsAndReplaysOnce()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        (long Version, double[] Ctr, string[] ImpressionIds) before;
        await using (var server = await InProcessServer.StartAsync(dir.Path, Settings, Inject(fs)))
        {
            await server.PostExamplesAsync(ExampleData.Batch(1, 0, BatchSize));
            before = await server.PredictAsync(ExampleData.Probe());
            Assert.Equal(BatchSize, before.Version);

            // Room for part of the next batch only: the device fills in the middle of its append.
            fs.FreeBytes = 10_000;
            using (var refused = await PostAsync(server, "/v1/examples", ExampleData.Batch(1, 1, BatchSize)))
            {
                var detail = await AssertRefusedAsync(refused, HttpStatusCode.InsufficientStorage, "no space left on the device of the example log");
                Assert.Contains(Path.Combine(dir.Path, "log"), detail, StringComparison.Ordinal);
            }

            // Nothing learned, predictions still served from memory and unchanged.
            var during = await server.PredictAsync(ExampleData.Probe());
            Assert.Equal(before.Version, during.Version);
            Assert.Equal(before.Ctr, during.Ctr);
            var (status, reason) = await ReadyAsync(server);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.Contains("example log unavailable: no space left", reason, StringComparison.Ordinal);
            Assert.Contains("507", reason, StringComparison.Ordinal);
            using (var live = await server.Client.GetAsync("/health/live"))
            {
                Assert.Equal(HttpStatusCode.OK, live.StatusCode);
            }

            var metrics = await MetricsAsync(server);
            Assert.Contains("adctr_storage_faults_total{kind=\"no_space\",operation=\"append\"} 1\n", metrics, StringComparison.Ordinal);
            Assert.Contains("adctr_storage_writable 0\n", metrics, StringComparison.Ordinal);

            // Space freed: the client's retry of the same batch succeeds, without a restart.
            fs.FreeBytes = null;
            Assert.Equal(BatchSize, await server.PostExamplesAsync(ExampleData.Batch(1, 1, BatchSize)));
            Assert.Equal(HttpStatusCode.OK, (await ReadyAsync(server)).Status);
            Assert.Contains("adctr_storage_writable 1\n", await MetricsAsync(server), StringComparison.Ordinal);
            before = await server.PredictAsync(ExampleData.Probe());
            Assert.Equal(2 * BatchSize, before.Version);
        }

        // Restart: the log holds each acknowledged example exactly once (the refused append left nothing behind).
        await using var restarted = await InProcessServer.StartAsync(dir.Path, Settings);
        var recovery = restarted.Durability.LastRecovery!;
        Assert.Equal(0, recovery.TruncatedTailBytes);
        Assert.Equal(2 * BatchSize, recovery.ReplayedExamples);
        var after = await restarted.PredictAsync(ExampleData.Probe());
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Ctr, after.Ctr);
    }

    [Fact]
    public async Task PostExamples_IoError_503NamingTheCause_ThenRecovers()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        await using var server = await InProcessServer.StartAsync(dir.Path, Settings, Inject(fs));
        fs.IoError = true;
        using (var refused = await PostAsync(server, "/v1/examples", ExampleData.Batch(2, 0, BatchSize)))
        {
            await AssertRefusedAsync(refused, HttpStatusCode.ServiceUnavailable, "could not be written (append of 'examples-00000000000000000000.log' failed: Input/output error");
        }

        Assert.Equal(0, server.Engine.ExamplesLearned);
        Assert.Contains("adctr_storage_faults_total{kind=\"io_error\",operation=\"append\"} 1\n", await MetricsAsync(server), StringComparison.Ordinal);
        var (status, reason) = await ReadyAsync(server);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("(503)", reason, StringComparison.Ordinal);

        fs.IoError = false;
        Assert.Equal(BatchSize, await server.PostExamplesAsync(ExampleData.Batch(2, 0, BatchSize)));
        Assert.Equal(BatchSize, server.Engine.ExamplesLearned);
    }

    [Fact]
    public async Task PostEvents_DiskFull_507AndTheRetriedEventsAreAppliedAgainNotDuplicates()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        await using var server = await InProcessServer.StartAsync(dir.Path, Settings, Inject(fs));
        var served = await server.PredictAsync(ExampleData.Probe());
        var id = served.ImpressionIds[0];
        var events = "{\"type\":\"impression\",\"impressionId\":\"" + id + "\"}\n{\"type\":\"click\",\"impressionId\":\"" + id + "\"}\n";

        fs.FreeBytes = 0;
        using (var refused = await PostAsync(server, "/v1/events", events))
        {
            await AssertRefusedAsync(refused, HttpStatusCode.InsufficientStorage, "no space left");
        }

        Assert.Equal(0, server.Engine.ExamplesLearned);

        fs.FreeBytes = null;
        using var accepted = await PostAsync(server, "/v1/events", events);
        var body = await accepted.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var root = JsonDocument.Parse(body).RootElement;
        Assert.True(root.GetProperty("accepted").GetInt32() == 2, body);
        Assert.Equal(1, root.GetProperty("positives").GetInt32());
        Assert.Equal(1, server.Engine.ExamplesLearned);
    }

    [Fact]
    public async Task Readiness_AfterSpaceIsFreed_ComesBackThroughTheProbeWithoutTraffic()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        await using var server = await InProcessServer.StartAsync(dir.Path, Settings, Inject(fs));
        fs.FreeBytes = 0;
        using (var refused = await PostAsync(server, "/v1/examples", ExampleData.Batch(3, 0, 10)))
        {
            Assert.Equal(HttpStatusCode.InsufficientStorage, refused.StatusCode);
        }

        await server.Durability.ProbeStorageAsync(); // still full: stays not ready
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await ReadyAsync(server)).Status);
        Assert.Contains("adctr_storage_faults_total{kind=\"no_space\",operation=\"probe\"} 1\n", await MetricsAsync(server), StringComparison.Ordinal);

        fs.FreeBytes = 1 << 20;
        await server.Durability.ProbeStorageAsync();
        Assert.Equal(HttpStatusCode.OK, (await ReadyAsync(server)).Status);
    }

    [Fact]
    public async Task Snapshot_DiskFull_ReportedAndRetried_PreviousKept_ShutdownClean_RecoveryUsesOlderSnapshotAndLog()
    {
        using var dir = new TempDirectory();
        var fs = new FaultInjectingFileSystem();
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
        string[] settings =
        [
            "--AdCtr:Durability:StorageProbeInterval=01:00:00",
            "--AdCtr:Durability:SnapshotOnShutdown=true",
            "--AdCtr:Durability:SnapshotInterval=00:10:00",
            "--AdCtr:Durability:SnapshotRetryInterval=00:00:30",
        ];
        (long Version, double[] Ctr, string[] ImpressionIds) before;
        await using (var server = await InProcessServer.StartAsync(dir.Path, settings, Inject(fs, time)))
        {
            await server.PostExamplesAsync(ExampleData.Batch(4, 0, BatchSize));
            await server.AdminAsync(HttpMethod.Post, "/admin/snapshot");
            await server.PostExamplesAsync(ExampleData.Batch(4, 1, BatchSize));

            // On demand: 507 naming the snapshot and the one kept.
            fs.SnapshotNoSpace = true;
            using (var request = new HttpRequestMessage(HttpMethod.Post, "/admin/snapshot"))
            {
                request.Headers.Add("X-Api-Key", InProcessServer.ApiKey);
                using var refused = await server.Client.SendAsync(request);
                var body = await refused.Content.ReadAsStringAsync();
                Assert.True(refused.StatusCode == HttpStatusCode.InsufficientStorage, body);
                Assert.Contains("snapshot 2 could not be written", body, StringComparison.Ordinal);
                Assert.Contains("snapshot-0000000001.bin", body, StringComparison.Ordinal);
            }

            // Scheduled: fails at the interval, is retried after the (shorter) retry interval, and then succeeds.
            time.Advance(TimeSpan.FromMinutes(10));
            await server.Durability.LastTimerSnapshot!;
            Assert.Equal([1L], server.Durability.ListSnapshots().Select(s => s.Sequence));
            var metrics = await MetricsAsync(server);
            Assert.Contains("adctr_snapshots_failed_total 2\n", metrics, StringComparison.Ordinal);
            Assert.Contains("adctr_storage_faults_total{kind=\"no_space\",operation=\"snapshot\"} 2\n", metrics, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await ReadyAsync(server)).Status); // the log is fine: ingestion goes on

            fs.SnapshotNoSpace = false;
            time.Advance(TimeSpan.FromSeconds(30));
            await server.Durability.LastTimerSnapshot!;
            Assert.Equal([2L, 1L], server.Durability.ListSnapshots().Select(s => s.Sequence));

            // More examples after snapshot 2, then a shutdown whose snapshot fails: logged, and the stop is clean.
            await server.PostExamplesAsync(ExampleData.Batch(4, 2, BatchSize));
            before = await server.PredictAsync(ExampleData.Probe());
            fs.SnapshotNoSpace = true;
        }

        Assert.Equal(2, new SnapshotStore(Path.Combine(dir.Path, "snapshots")).List().Count);
        await using var restarted = await InProcessServer.StartAsync(dir.Path, Settings);
        var recovery = restarted.Durability.LastRecovery!;
        Assert.Equal(2, recovery.SnapshotSequence);
        Assert.Equal(BatchSize, recovery.ReplayedExamples);
        var after = await restarted.PredictAsync(ExampleData.Probe());
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Ctr, after.Ctr);
    }
}
