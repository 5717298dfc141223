using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AdCtr.Benchmarks;

/// <summary>
/// A second opinion for a shared machine: runs the same benchmark methods on the same pools, but times
/// each pass over the pool with the thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID) next to wall time,
/// so time spent descheduled while other processes hold the cores is not charged to the learner
/// (cache pollution by them still is). BenchmarkDotNet's wall-clock figures remain the reference.
/// </summary>
internal static partial class CpuTimeRunner
{
    private const int ThreadCpuTimeClock = 3;

    public static int Run(int passes)
    {
        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("--cpu-time needs Linux (CLOCK_THREAD_CPUTIME_ID)");
            return 2;
        }

        Console.WriteLine($"| {"Method",-34} | {"CPU p25",9} | {"CPU median",10} | {"Op/s (CPU median)",17} | {"wall median",11} |");
        Console.WriteLine($"|{new string('-', 36)}|{new string('-', 11)}|{new string('-', 12)}|{new string('-', 19)}|{new string('-', 13)}|");
        var learner = new LearnerBenchmarks();
        learner.Setup();
        Measure("Encode", () => learner.Encode(), LearnerBenchmarks.Pool, passes);
        Measure("Predict", learner.Predict, LearnerBenchmarks.Pool, passes);
        Measure("PredictAndUpdate", learner.PredictAndUpdate, LearnerBenchmarks.Pool, passes);
        Measure("EncodePredictUpdate", learner.EncodePredictUpdate, LearnerBenchmarks.Pool, passes);
        foreach (var candidates in (int[])[1, 50])
        {
            var request = new CandidateBenchmarks { Candidates = candidates };
            request.Setup();
            Measure($"PredictCandidates({candidates})", request.PredictCandidates, CandidateBenchmarks.Pool, passes);
            Measure($"EncodeAndPredictCandidates({candidates})", request.EncodeAndPredictCandidates, CandidateBenchmarks.Pool, passes);
        }

        return 0;
    }

    /// <summary>
    /// The server's in-process predict path (<see cref="PredictPathBenchmarks"/>) with campaigns read from the view
    /// (single node) and from replicas (a cluster silo that does not host them), per request, two rounds interleaved.
    /// </summary>
    public static int RunPredictPath(int passes)
    {
        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("--predict-path-cpu-time needs Linux (CLOCK_THREAD_CPUTIME_ID)");
            return 2;
        }

        const int RequestsPerPass = 100;
        Console.WriteLine($"| {"Method",-34} | {"CPU p25",9} | {"CPU median",10} | {"Op/s (CPU median)",17} | {"wall median",11} |");
        Console.WriteLine($"|{new string('-', 36)}|{new string('-', 11)}|{new string('-', 12)}|{new string('-', 19)}|{new string('-', 13)}|");
        foreach (var candidates in (int[])[1, 50])
        {
            var local = new PredictPathBenchmarks { Candidates = candidates, Replica = false };
            var replica = new PredictPathBenchmarks { Candidates = candidates, Replica = true };
            local.Setup();
            replica.Setup();
            for (var round = 0; round < 2; round++)
            {
                Measure($"PredictPath({candidates}, view)", () => Requests(local, RequestsPerPass), RequestsPerPass, passes);
                Measure($"PredictPath({candidates}, replica)", () => Requests(replica, RequestsPerPass), RequestsPerPass, passes);
            }

            local.Cleanup();
            replica.Cleanup();
        }

        return 0;
    }

    private static double Requests(PredictPathBenchmarks benchmark, int count)
    {
        var bytes = 0.0;
        for (var i = 0; i < count; i++)
        {
            bytes += benchmark.Predict();
        }

        return bytes;
    }

    private static void Measure(string name, Func<double> pass, int operations, int passes)
    {
        var sink = 0.0;
        for (var i = 0; i < Math.Max(10, passes / 10); i++)
        {
            sink += pass();
        }

        var cpu = new double[passes];
        var wall = new double[passes];
        for (var i = 0; i < passes; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var cpuStart = ThreadCpuNanoseconds();
            sink += pass();
            cpu[i] = (ThreadCpuNanoseconds() - cpuStart) / (double)operations;
            wall[i] = Stopwatch.GetElapsedTime(start).TotalNanoseconds / operations;
        }

        Array.Sort(cpu);
        Array.Sort(wall);
        var median = cpu[passes / 2];
        Console.WriteLine(FormattableString.Invariant(
            $"| {name,-34} | {cpu[passes / 4],6:F1} ns | {median,7:F1} ns | {1e9 / median,17:N0} | {wall[passes / 2],8:F1} ns |") + (double.IsNaN(sink) ? " (NaN)" : string.Empty));
    }

    private static unsafe long ThreadCpuNanoseconds()
    {
        var ts = stackalloc long[2];
        return ClockGetTime(ThreadCpuTimeClock, ts) == 0 ? (ts[0] * 1_000_000_000L) + ts[1] : throw new InvalidOperationException("clock_gettime failed");
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static unsafe partial int ClockGetTime(int clock, long* timespec);
}
