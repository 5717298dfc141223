using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AdCtr.Learning.Memory;

/// <summary>
/// Large, short-lived, uninitialized arrays backed by transparent huge pages where the kernel offers them on request
/// (Linux with <c>/sys/kernel/mm/transparent_hugepage/enabled</c> = <c>madvise</c>, as on the build machine): the
/// array is allocated pinned (on the pinned object heap, so it never moves) and not zeroed, and its 2 MiB-aligned
/// interior is marked <c>MADV_HUGEPAGE</c> before anything touches it, so that first writes fault in 2 MiB pages
/// instead of 4 KiB ones (512 times fewer page faults; a fault is expensive in a virtual machine). Anywhere else, or
/// below <see cref="MinBytes"/>, an ordinary uninitialized array. The contents are undefined until written.
/// </summary>
public static partial class LargeArrays
{
    /// <summary>Below this size an array is allocated as usual (huge pages need 2 MiB-aligned 2 MiB ranges).</summary>
    public const long MinBytes = 8L << 20;

    private const nint HugePage = 2 << 20;
    private const int MadvHugePage = 14;

    /// <summary>An uninitialized array of <paramref name="length"/> elements, on huge pages when possible.</summary>
    public static T[] Allocate<T>(int length)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if ((long)length * Unsafe.SizeOf<T>() < MinBytes || !OperatingSystem.IsLinux())
        {
            return GC.AllocateUninitializedArray<T>(length);
        }

        var array = GC.AllocateUninitializedArray<T>(length, pinned: true);
        unsafe
        {
            var start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
            var end = start + ((nint)length * Unsafe.SizeOf<T>());
            var alignedStart = (start + HugePage - 1) & ~(HugePage - 1);
            var alignedEnd = end & ~(HugePage - 1);
            if (alignedEnd > alignedStart)
            {
                // Advice only: on failure (no THP support) the pages are simply 4 KiB ones.
                _ = Madvise(alignedStart, (nuint)(alignedEnd - alignedStart), MadvHugePage);
            }
        }

        return array;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
