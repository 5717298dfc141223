using System.Diagnostics;

namespace AdCtr.Server.Tests.Support;

/// <summary>
/// A small tmpfs mounted for one test (<c>mount -t tmpfs -o size=N tmpfs DIR</c>, needs root or CAP_SYS_ADMIN), so
/// that a full disk is a real ENOSPC from the kernel. Unmounted and removed on dispose.
/// </summary>
internal sealed class Tmpfs : IDisposable
{
    private static readonly Lazy<string?> Refusal = new(ProbeMount);

    private Tmpfs(string path) => Path = path;

    public string Path { get; }

    /// <summary>Why tmpfs cannot be mounted here (null when it can): the reason a <see cref="TmpfsFactAttribute"/> test is skipped.</summary>
    public static string? MountRefused => Refusal.Value;

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> bytes (read-only when <paramref name="readOnly"/>).</summary>
    public static Tmpfs Mount(long bytes, bool readOnly = false)
    {
        var path = Directory.CreateTempSubdirectory("adctr-tmpfs-").FullName;
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", (readOnly ? "ro," : "") + "size=" + bytes, "tmpfs", path);
        if (code != 0)
        {
            Directory.Delete(path);
            throw new InvalidOperationException("mount -t tmpfs failed (" + code + "): " + output);
        }

        return new Tmpfs(path);
    }

    /// <summary>Remounts read-only (files stay; every write fails with EROFS).</summary>
    public void RemountReadOnly()
    {
        var (code, output) = Run("mount", "-o", "remount,ro", Path);
        Assert.True(code == 0, "mount -o remount,ro failed: " + output);
    }

    /// <summary>Writes a file of zeros until the device is full; returns its path (delete it to free the space).</summary>
    public string FillUp(string name = "filler")
    {
        var path = System.IO.Path.Combine(Path, name);
        var chunk = new byte[4096];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        // Bounded by the size of the file system.
        try
        {
            while (true)
            {
                file.Write(chunk);
            }
        }
        catch (IOException)
        {
            // full
        }

        // Smaller writes fill the last partial chunk.
        try
        {
            while (true)
            {
                file.Write(chunk.AsSpan(0, 1));
            }
        }
        catch (IOException)
        {
            // full to the byte
        }

        return path;
    }

    public void Dispose()
    {
        // -l: detach even if a file is still open (a child process being torn down); the memory goes with the last close.
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // left in the temp directory
        }
    }

    private static string? ProbeMount()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "tmpfs tests need Linux; the same faults run through FaultInjectingFileSystem in StorageFaultTests";
        }

        try
        {
            using var probe = Mount(1 << 20);
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return "mounting a tmpfs was refused (run the tests as root, or with CAP_SYS_ADMIN, to run them): " + e.Message.Trim() +
                " -- the same faults run through FaultInjectingFileSystem in StorageFaultTests";
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}

/// <summary>A fact that needs a real tmpfs: skipped, saying why, where mounting one is refused.</summary>
internal sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (Tmpfs.MountRefused is { } reason)
        {
            Skip = reason;
        }
    }
}
