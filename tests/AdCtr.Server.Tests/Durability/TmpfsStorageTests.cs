using System.Net;
using System.Text;
using System.Text.Json;
using AdCtr.Server.Tests.Storage;
using AdCtr.Server.Tests.Support;
using Xunit.Abstractions;

namespace AdCtr.Server.Tests.Durability;

/// <summary>
/// The storage faults for real: the data directory on a small tmpfs that the kernel fills up (ENOSPC). Skipped,
/// saying why, where mounting a tmpfs is refused; the same code paths run through the file-system seam in
/// <see cref="StorageFaultTests"/> everywhere.
/// </summary>
public sealed class TmpfsStorageTests(ITestOutputHelper output)
{
    private const int BatchSize = ExampleData.DefaultBatchSize;

    /// <summary>Each batch is about 100 KB in the log: a 2 MiB tmpfs with 1 MiB taken fills within ~10 batches; 100 is a safe bound.</summary>
    private const int MaxBatches = 100;

    [TmpfsFact]
    public async Task DiskFull_FillFailFreeSucceed_WithoutRestart_AndRestartReplaysEachAcknowledgedExampleOnce()
    {
        using var disk = Tmpfs.Mount(2 << 20);
        var data = Path.Combine(disk.Path, "data");
        var filler = Path.Combine(disk.Path, "filler");
        await File.WriteAllBytesAsync(filler, new byte[1 << 20]);
        string[] settings = ["--AdCtr:Durability:SnapshotOnShutdown=false", "--AdCtr:Durability:StorageProbeInterval=00:00:07"];

        var acknowledged = 0;
        (long Version, double[] Ctr, string[] ImpressionIds) before;
        await using (var server = await InProcessServer.StartAsync(data, settings))
        {
            // Fill: post until the kernel says ENOSPC.
            HttpStatusCode status;
            string body;
            // Bounded by MaxBatches.
            while (true)
            {
                Assert.True(acknowledged < MaxBatches, "the 2 MiB tmpfs never filled up");
                using var response = await server.Client.PostAsync("/v1/examples", new StringContent(ExampleData.Batch(5, acknowledged, BatchSize), Encoding.UTF8, "application/x-ndjson"));
                status = response.StatusCode;
                body = await response.Content.ReadAsStringAsync();
                if (status != HttpStatusCode.OK)
                {
                    Assert.Equal(7, (int)response.Headers.RetryAfter!.Delta!.Value.TotalSeconds);
                    break;
                }

                acknowledged++;
            }

            // Fail: 507 naming the device's answer; nothing of the batch learned; the file was cut back.
            output.WriteLine("filled after " + acknowledged + " batches: " + body);
            Assert.Equal(HttpStatusCode.InsufficientStorage, status);
            var detail = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString()!;
            Assert.Contains("No space left on device", detail, StringComparison.Ordinal);
            Assert.Contains(Path.Combine(data, "log"), detail, StringComparison.Ordinal);
            Assert.Equal((long)acknowledged * BatchSize, server.Engine.ExamplesLearned);
            var segment = Assert.Single(Directory.GetFiles(Path.Combine(data, "log"), "examples-*.log"));
            var metrics = await server.Client.GetStringAsync("/metrics");
            var end = long.Parse(metrics.Split('\n').Single(l => l.StartsWith("adctr_log_end_position_bytes ", StringComparison.Ordinal)).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(end, new FileInfo(segment).Length);
            using (var ready = await server.Client.GetAsync("/health/ready"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            }

            // Free, succeed: the same batch again, no restart.
            File.Delete(filler);
            Assert.Equal(BatchSize, await server.PostExamplesAsync(ExampleData.Batch(5, acknowledged, BatchSize)));
            acknowledged++;
            using (var ready = await server.Client.GetAsync("/health/ready"))
            {
                Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            }

            before = await server.PredictAsync(ExampleData.Probe());
        }

        await using var restarted = await InProcessServer.StartAsync(data, settings);
        Assert.Equal((long)acknowledged * BatchSize, restarted.Durability.LastRecovery!.ReplayedExamples);
        var after = await restarted.PredictAsync(ExampleData.Probe());
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Ctr, after.Ctr);
    }

    [TmpfsFact]
    public async Task Sigterm_AfterDiskFull_ShutsDownCleanlyWithTheSnapshotFailureLogged_AndRestartLosesNothing()
    {
        using var disk = Tmpfs.Mount(2 << 20);
        var data = Path.Combine(disk.Path, "data");
        using var work = new TempDirectory();
        string[] settings = ["--AdCtr:Storage:Path=" + data, "--AdCtr:Model:Bits=18", "--AdCtr:Calibration:Kind=None", "--Logging:LogLevel:Default=Warning"];

        var acknowledged = 0;
        await using (var server = ServerProcess.Start(work.Path, settings))
        {
            using var client = new HttpClient { BaseAddress = await server.ListeningAsync(TimeSpan.FromSeconds(60)), Timeout = TimeSpan.FromSeconds(30) };
            // Bounded by MaxBatches.
            while (true)
            {
                Assert.True(acknowledged < MaxBatches, "the 2 MiB tmpfs never filled up");
                using var response = await client.PostAsync("/v1/examples", new StringContent(ExampleData.Batch(6, acknowledged, BatchSize), Encoding.UTF8, "application/x-ndjson"));
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Assert.Equal(HttpStatusCode.InsufficientStorage, response.StatusCode);
                    break;
                }

                acknowledged++;
            }

            // Whatever space is left goes too, so that the shutdown snapshot cannot be written either.
            disk.FillUp();
            server.Terminate();
            var code = await server.WaitForExitAsync(TimeSpan.FromSeconds(60));
            var log = server.StandardOutput + server.StandardError;
            output.WriteLine("acknowledged " + acknowledged + " batches; exit code " + code + "\n" + log);
            Assert.Equal(0, code);
            Assert.Contains("Shutdown snapshot failed", log, StringComparison.Ordinal);
            Assert.Contains("No space left on device", log, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", log, StringComparison.Ordinal);
        }

        File.Delete(Path.Combine(disk.Path, "filler"));
        await using var restarted = await InProcessServer.StartAsync(data);
        Assert.Equal((long)acknowledged * BatchSize, restarted.Engine.ExamplesLearned);
    }
}
