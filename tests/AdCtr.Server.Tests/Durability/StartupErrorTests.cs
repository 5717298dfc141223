using AdCtr.Server.Tests.Storage;
using AdCtr.Server.Tests.Support;

namespace AdCtr.Server.Tests.Durability;

/// <summary>
/// Start-up errors of the data directory, as an operator meets them: the real server process prints one line on
/// standard error naming the path and the cause, and exits with code 1; no stack trace unless logging is at Debug.
/// </summary>
public sealed class StartupErrorTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    private static async Task<(int Code, string Error)> RunAsync(string workingDirectory, params string[] args)
    {
        await using var server = ServerProcess.Start(workingDirectory, args);
        var code = await server.WaitForExitAsync(ExitTimeout);
        return (code, server.StandardError);
    }

    /// <summary>Exactly one line on stderr, equal to <paramref name="expected"/>, and no stack frame.</summary>
    private static void AssertOneLine(string stderr, string expected)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr, got:\n" + stderr);
        Assert.Equal(expected, lines[0]);
    }

    [Fact]
    public async Task Start_PathIsAFile_OneLineNamingPathAndCause_Exit1()
    {
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "data");
        await File.WriteAllTextAsync(file, "not a directory");
        var (code, error) = await RunAsync(dir.Path, "--AdCtr:Storage:Path=" + file);
        Assert.Equal(1, code);
        AssertOneLine(error, "AdCtr.Server could not start: data directory '" + file + "': it is a file, not a directory");
    }

    [Fact]
    public async Task Start_DirectoryCannotBeCreated_OneLineNamingPathAndCause_Exit1()
    {
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "plain-file");
        await File.WriteAllTextAsync(file, "x");
        var path = Path.Combine(file, "data");
        var (code, error) = await RunAsync(dir.Path, "--AdCtr:Storage:Path=" + path);
        Assert.Equal(1, code);
        AssertOneLine(error, "AdCtr.Server could not start: data directory '" + path + "': the directory cannot be created: '" + file + "' is a file, not a directory");
    }

    [Fact]
    public async Task Start_LogHeldByAnotherRunningServer_OneLineNamingTheLock_Exit1()
    {
        using var dir = new TempDirectory();
        await using var running = await InProcessServer.StartAsync(dir.Path);
        var log = Path.Combine(dir.Path, "log");
        var (code, error) = await RunAsync(dir.Path, "--AdCtr:Storage:Path=" + dir.Path);
        Assert.Equal(1, code);
        AssertOneLine(error, "AdCtr.Server could not start: data directory '" + log + "': the example log is in use by another running AdCtr server (it holds the lock on '" +
            Path.Combine(log, ".lock") + "'); stop that server or choose another AdCtr:Storage:Path");
    }

    [Fact]
    public async Task Start_PathIsAFile_AtDebugLevel_PrintsTheStackTraceToo()
    {
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "data");
        await File.WriteAllTextAsync(file, "x");
        var (code, error) = await RunAsync(dir.Path, "--AdCtr:Storage:Path=" + file, "--Logging:LogLevel:Default=Debug");
        Assert.Equal(1, code);
        Assert.StartsWith("AdCtr.Server could not start: data directory '" + file + "': it is a file, not a directory", error, StringComparison.Ordinal);
        Assert.Contains("StorageStartupException", error, StringComparison.Ordinal);
        Assert.Contains("   at AdCtr.Server.Storage.DataDirectory.", error, StringComparison.Ordinal);
    }

    [TmpfsFact]
    public async Task Start_DirectoryNotWritable_OneLineNamingPathAndCause_Exit1()
    {
        // A real read-only file system (root may write anywhere else, so permissions would not stop it).
        using var disk = Tmpfs.Mount(1 << 20);
        var data = Path.Combine(disk.Path, "data");
        Directory.CreateDirectory(Path.Combine(data, "log"));
        Directory.CreateDirectory(Path.Combine(data, "snapshots"));
        disk.RemountReadOnly();
        using var dir = new TempDirectory();
        var (code, error) = await RunAsync(dir.Path, "--AdCtr:Storage:Path=" + data);
        Assert.Equal(1, code);
        AssertOneLine(error, "AdCtr.Server could not start: data directory '" + data + "': the directory is not writable: Read-only file system");
    }
}
