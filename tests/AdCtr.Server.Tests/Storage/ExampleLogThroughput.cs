using System.Diagnostics;
using System.Globalization;
using AdCtr.Server.Storage;

namespace AdCtr.Server.Tests.Storage;

/// <summary>
/// Hand-run measurement (not a test): appends/s of 100-byte records in batches of 1,000 under each fsync policy,
/// with 1 and 4 concurrent writers. Run it from a throwaway console program (see src/AdCtr.Server/Storage/README.md).
/// </summary>
public static class ExampleLogThroughput
{
    public static async Task RunAsync(string directory, TextWriter output, int batchesPerRun = 300, int batchSize = 1000, int recordBytes = 100)
    {
        ArgumentNullException.ThrowIfNull(output);
        var payload = new byte[recordBytes];
        new Random(1).NextBytes(payload);
        var batch = new ReadOnlyMemory<byte>[batchSize];
        Array.Fill(batch, payload);
        output.WriteLine("policy    writers  records/s     MB/s   mean batch ms   max batch ms");
        foreach (var policy in new[] { FsyncPolicy.Always, FsyncPolicy.Interval, FsyncPolicy.Never })
        {
            foreach (var writers in new[] { 1, 4 })
            {
                var path = Path.Combine(directory, policy + "-" + writers.ToString(CultureInfo.InvariantCulture));
                var log = ExampleLog.Open(new StorageOptions { Path = path, FsyncPolicy = policy });
                await using (log.ConfigureAwait(false))
                {
                    for (var i = 0; i < 10; i++)
                    {
                        await log.AppendBatchAsync(batch).ConfigureAwait(false); // warm-up
                    }

                    var perWriter = batchesPerRun / writers;
                    var latencies = new double[writers * perWriter];
                    var clock = Stopwatch.StartNew();
                    var tasks = new Task[writers];
                    for (var w = 0; w < writers; w++)
                    {
                        var writer = w;
                        tasks[w] = Task.Run(async () =>
                        {
                            for (var b = 0; b < perWriter; b++)
                            {
                                var start = Stopwatch.GetTimestamp();
                                await log.AppendBatchAsync(batch).ConfigureAwait(false);
                                latencies[(writer * perWriter) + b] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                            }
                        });
                    }

                    await Task.WhenAll(tasks).ConfigureAwait(false);
                    clock.Stop();
                    var records = (double)writers * perWriter * batchSize;
                    var seconds = clock.Elapsed.TotalSeconds;
                    output.WriteLine(string.Format(
                        CultureInfo.InvariantCulture,
                        "{0,-9} {1,7} {2,10:N0} {3,8:F1} {4,15:F2} {5,14:F2}",
                        policy,
                        writers,
                        records / seconds,
                        records * (recordBytes + ExampleLog.RecordHeaderBytes) / seconds / 1e6,
                        latencies.Average(),
                        latencies.Max()));
                }

                Directory.Delete(path, recursive: true);
            }
        }
    }
}
