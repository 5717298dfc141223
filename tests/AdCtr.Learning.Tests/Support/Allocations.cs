namespace AdCtr.Learning.Tests.Support;

/// <summary>Allocation checks that do not depend on when the JIT gets round to a method.</summary>
internal static class Allocations
{
    /// <summary>
    /// Runs <paramref name="run"/> <paramref name="runs"/> times and returns the fewest bytes one run
    /// allocated on this thread. The runtime may, once, allocate on the calling thread while a loop is
    /// moved to optimised code (tiered compilation, on-stack replacement); that happens in one run at
    /// most, whereas code that allocates per call allocates in every run, so the minimum is 0 exactly
    /// when the code under test does not allocate.
    /// </summary>
    public static long Fewest(int runs, Action run)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 2);
        var fewest = long.MaxValue;
        for (var i = 0; i < runs; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            run();
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return fewest;
    }
}
