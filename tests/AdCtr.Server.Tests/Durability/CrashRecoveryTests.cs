using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AdCtr.Learning.Features;
using AdCtr.Server.Api;
using AdCtr.Server.Hosting;
using AdCtr.Server.Tests.Storage;
using Xunit.Abstractions;

namespace AdCtr.Server.Tests.Durability;

/// <summary>
/// The crash test: a child server process (dotnet + the AdCtr.Server.dll built next to the tests) ingests
/// batches of examples, is killed with SIGKILL at a seeded random moment (while a batch is in flight), and is
/// restarted on the same data directory. Every batch acknowledged before the kill must be in the restarted model:
/// its examples-learned count (the model version) is at least the acknowledged count, at most what was sent, and
/// its predictions equal those of a clean in-process replay of exactly that many examples in sending order.
/// </summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private const int BatchSize = 1000;

    /// <summary>
    /// Each batch holds one campaign and is learned by one grain turn, in order, by the original server, by its
    /// replay (the log's batches as they were appended, from a snapshot position, which always lies between two
    /// batches) and by the in-process replay; learning depends only on the batches and their order (issue 15), so the
    /// models are identical and the predictions agree to float rounding. 1e-9 leaves room for nothing else.
    /// </summary>
    private const double Tolerance = 1e-9;

    [Theory]
    [InlineData(11)]
    [InlineData(23)]
    [InlineData(37)]
    public async Task KilledServer_Restarted_HasEveryAcknowledgedExample(int seed)
    {
        using var dir = new TempDirectory();
        var random = new Random(seed);
        var killAtBatch = random.Next(8, 40);
        var killDelay = TimeSpan.FromMilliseconds(random.Next(0, 15));

        var acknowledged = 0;
        var sent = 0;
        await using (var child = await ChildServer.StartAsync(dir.Path))
        {
            // Bounded: stops at the kill batch (or earlier if the server dies on its own, which fails below).
            for (var b = 0; b < killAtBatch; b++)
            {
                sent++;
                if (!await child.TryPostAsync(ExampleData.Batch(seed, b, BatchSize)))
                {
                    break;
                }

                acknowledged++;
            }

            Assert.Equal(killAtBatch, acknowledged);
            sent++;
            var inFlight = child.TryPostAsync(ExampleData.Batch(seed, killAtBatch, BatchSize));
            await Task.Delay(killDelay);
            child.Kill();
            if (await inFlight)
            {
                acknowledged++; // answered before the kill landed: acknowledged, so it must survive too
            }
        }

        var snapshots = Directory.GetFiles(Path.Combine(dir.Path, "data", "snapshots"), "*.bin").Length;
        await using var restarted = await ChildServer.StartAsync(dir.Path);
        var (version, ctr) = await restarted.PredictAsync(ExampleData.Probe());

        output.WriteLine("seed " + seed + ": acknowledged " + acknowledged + " batches, sent " + sent + ", snapshots on disk at the kill " + snapshots + ", restarted model version " + version);
        Assert.InRange(version, (long)acknowledged * BatchSize, (long)sent * BatchSize);
        var expected = await ReplayInProcessAsync(seed, version);
        Assert.Equal(expected.Length, ctr.Length);
        for (var i = 0; i < ctr.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - ctr[i]) <= Tolerance, "candidate " + i + ": restarted " + ctr[i] + ", replay " + expected[i]);
        }
    }

    /// <summary>Learns the first <paramref name="count"/> examples as the server did and predicts the probe.</summary>
    private static async Task<double[]> ReplayInProcessAsync(int seed, long count)
    {
        var spec = FeatureSpec.Load(Path.Combine(AppContext.BaseDirectory, "config", "features.sim.json")).WithBits(ChildServer.Bits);
        await using var host = await EngineHost.StartAsync(spec, new ModelOptions { Bits = ChildServer.Bits }, new LimitsOptions(), new CalibrationOptions { Kind = CalibrationKind.None }, TimeProvider.System);
        var engine = host.Engine;
        {
            for (var b = 0; (long)b * BatchSize < count; b++)
            {
                var lines = ExampleData.Batch(seed, b, BatchSize).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                var take = (int)Math.Min(BatchSize, count - ((long)b * BatchSize));
                var body = Encoding.UTF8.GetBytes(string.Join('\n', lines.Take(take)) + "\n");
                using var parsed = ExampleBodyParser.Parse(engine, body);
                Assert.Null(parsed.Error);
                await engine.LearnAsync(parsed.Batch, parsed.CampaignIds);
            }

            Assert.Equal(count, engine.ExamplesLearned);
            var probe = JsonDocument.Parse(ExampleData.Probe()).RootElement;
            var candidates = probe.GetProperty("candidates");
            var result = new double[candidates.GetArrayLength()];
            var encoder = new FeatureEncoder(spec);
            var row = new RawRow(spec.Fields.Length);
            var x = new EncodedExample();
            for (var i = 0; i < result.Length; i++)
            {
                row.Clear();
                foreach (var field in probe.GetProperty("context").EnumerateObject())
                {
                    row.Set(spec.IndexOf(field.Name), field.Value.GetString());
                }

                row.Set(spec.IndexOf("adId"), candidates[i].GetProperty("adId").GetString());
                row.Set(spec.IndexOf("campaignId"), candidates[i].GetProperty("campaignId").GetString());
                encoder.Encode(row, x);
                result[i] = await engine.PredictRawAsync(x);
            }

            return result;
        }
    }

    /// <summary>An AdCtr server in a child process on 127.0.0.1 (ephemeral port, read from its log).</summary>
    private sealed class ChildServer : IAsyncDisposable
    {
        public const int Bits = 18;

        private readonly Process _process;
        private readonly HttpClient _client;

        private ChildServer(Process process, Uri address)
        {
            _process = process;
            _client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        }

        public static async Task<ChildServer> StartAsync(string dataDirectory)
        {
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                WorkingDirectory = dataDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(ServerDll());
            foreach (var setting in new[]
            {
                "--urls=http://127.0.0.1:0",
                "--AdCtr:Cluster:SiloPort=0",
                "--AdCtr:Cluster:GatewayPort=0",
                "--AdCtr:Storage:Path=" + Path.Combine(dataDirectory, "data"),
                "--AdCtr:Storage:FsyncPolicy=Interval",
                "--AdCtr:Model:Bits=" + Bits,
                "--AdCtr:Calibration:Kind=None",
                "--AdCtr:Durability:SnapshotInterval=00:00:00.150",
                "--Logging:LogLevel:Default=Warning",
                "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
            })
            {
                start.ArgumentList.Add(setting);
            }

            var process = Process.Start(start)!;
            var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            var output = new StringBuilder();
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    listening.TrySetException(new InvalidOperationException("the server exited before listening:\n" + output));
                    return;
                }

                lock (output)
                {
                    output.AppendLine(e.Data);
                }

                const string marker = "Now listening on: ";
                var at = e.Data.IndexOf(marker, StringComparison.Ordinal);
                if (at >= 0)
                {
                    listening.TrySetResult(new Uri(e.Data[(at + marker.Length)..].Trim()));
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (output)
                    {
                        output.AppendLine(e.Data);
                    }
                }
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
                var server = new ChildServer(process, address);
                await server.WaitReadyAsync();
                return server;
            }
            catch
            {
                process.Kill();
                await process.WaitForExitAsync();
                process.Dispose();
                throw;
            }
        }

        public async Task<bool> TryPostAsync(string ndjson)
        {
            try
            {
                using var response = await _client.PostAsync("/v1/examples", new StringContent(ndjson, Encoding.UTF8, "application/x-ndjson"));
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }

        public async Task<(long Version, double[] Ctr)> PredictAsync(string request)
        {
            using var response = await _client.PostAsync("/v1/predict", new StringContent(request, Encoding.UTF8, "application/json"));
            var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            var predictions = root.GetProperty("predictions");
            var ctr = new double[predictions.GetArrayLength()];
            for (var i = 0; i < ctr.Length; i++)
            {
                ctr[i] = predictions[i].GetProperty("ctr").GetDouble();
            }

            return (root.GetProperty("modelVersion").GetInt64(), ctr);
        }

        /// <summary>SIGKILL (Process.Kill on Unix), then waits for the process to be gone.</summary>
        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit();
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        private async Task WaitReadyAsync()
        {
            // The server listens only once recovery is done, so this normally succeeds at once; bounded by a deadline.
            var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 30);
            while (true)
            {
                using var response = await _client.GetAsync("/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException("the restarted server did not become ready within 30 s");
                }

                await Task.Delay(20);
            }
        }

        private static string ServerDll()
        {
            var beside = Path.Combine(AppContext.BaseDirectory, "AdCtr.Server.dll");
            if (File.Exists(beside) && File.Exists(Path.Combine(AppContext.BaseDirectory, "AdCtr.Server.runtimeconfig.json")))
            {
                return beside;
            }

            // Fallback: the server project's own output, same configuration as the tests.
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Parent!.Name;
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "src", "AdCtr.Server", "bin", configuration, "net10.0", "AdCtr.Server.dll");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            throw new FileNotFoundException("AdCtr.Server.dll was not found next to the tests nor in src/AdCtr.Server/bin; build the server first.");
        }
    }
}
