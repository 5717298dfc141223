using System.Diagnostics;
using System.Text;

namespace AdCtr.Server.Tests.Support;

/// <summary>The AdCtr server as a child process (dotnet AdCtr.Server.dll), with its exit code and its output.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process) => _process = process;

    public string StandardOutput
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public int Id => _process.Id;

    /// <summary>Starts the server with <paramref name="args"/> (the URL defaults to an ephemeral loopback port).</summary>
    public static ServerProcess Start(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ServerDll());
        start.ArgumentList.Add("--urls=http://127.0.0.1:0");
        start.ArgumentList.Add("--AdCtr:Cluster:SiloPort=0"); // tests run many silos at once
        start.ArgumentList.Add("--AdCtr:Cluster:GatewayPort=0");
        start.ArgumentList.Add("--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information");
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        var server = new ServerProcess(Process.Start(start)!);
        server.Attach();
        return server;
    }

    /// <summary>The address once the server listens; fails if it exits first. Bounded by <paramref name="timeout"/>.</summary>
    public async Task<Uri> ListeningAsync(TimeSpan timeout)
    {
        try
        {
            return await _listening.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException("the server did not listen within " + timeout + ". stdout:\n" + StandardOutput + "\nstderr:\n" + StandardError);
        }
    }

    /// <summary>Waits for the process to exit (bounded) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("the server did not exit within " + timeout + ". stdout:\n" + StandardOutput + "\nstderr:\n" + StandardError);
        }

        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    /// <summary>SIGKILL (<see cref="Process.Kill()"/> on Linux): no shutdown code runs.</summary>
    public void Kill() => _process.Kill();

    /// <summary>SIGTERM, as a service manager stops a process.</summary>
    public void Terminate()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Attach()
    {
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _listening.TrySetException(new InvalidOperationException("the server exited before listening. stdout:\n" + StandardOutput + "\nstderr:\n" + StandardError));
                return;
            }

            lock (_stdout)
            {
                _stdout.AppendLine(e.Data);
            }

            const string Marker = "Now listening on: ";
            var at = e.Data.IndexOf(Marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                _listening.TrySetResult(new Uri(e.Data[(at + Marker.Length)..].Trim()));
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private static string ServerDll()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "AdCtr.Server.dll");
        if (File.Exists(beside) && File.Exists(Path.Combine(AppContext.BaseDirectory, "AdCtr.Server.runtimeconfig.json")))
        {
            return beside;
        }

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
