using AdCtr.Grains.Runtime;

namespace AdCtr.Grains.Tests.Runtime;

public sealed class GrainRuntimeTests
{
    [Fact]
    public async Task InvokeAsync_FirstCall_ActivatesAndReadsStorage()
    {
        await using var fixture = new RuntimeFixture();
        var id = new GrainId("counter", 7);
        await fixture.Storage.WriteStateAsync(id, new GrainState<CounterState>(new CounterState { Count = 41 }), CancellationToken.None);

        var grain = fixture.Counter(7);
        Assert.False(grain.IsActive);
        Assert.Equal(0, fixture.Memory.Reads);

        Assert.Equal(42, await RuntimeFixture.IncrementAsync(grain));
        Assert.True(grain.IsActive);
        Assert.Equal(1, fixture.Memory.Reads);
        Assert.Equal(1, fixture.Probe.Activations);
        Assert.Equal(id, grain.GrainId);

        // Second call: same activation, no second read.
        Assert.Equal(43, await RuntimeFixture.IncrementAsync(grain));
        Assert.Equal(1, fixture.Memory.Reads);
        Assert.Equal(1, fixture.Probe.Activations);
    }

    [Fact]
    public async Task InvokeAsync_10000ConcurrentIncrements_ExactCountAndOneTurnAtATime()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(1);
        const int Tasks = 100, PerTask = 100;

        var workers = new Task[Tasks];
        for (var t = 0; t < Tasks; t++)
        {
            workers[t] = Task.Run(async () =>
            {
                for (var i = 0; i < PerTask; i++)
                {
                    // Mix synchronous turns, turns that yield mid-turn, and fire-and-forget posts.
                    switch (i % 3)
                    {
                        case 0:
                            await RuntimeFixture.IncrementAsync(grain);
                            break;
                        case 1:
                            await grain.InvokeAsync(static g => g.IncrementYieldingAsync());
                            break;
                        default:
                            grain.Post(0, static (g, _) => g.Increment());
                            break;
                    }
                }
            });
        }

        await Task.WhenAll(workers);
        // A final turn runs after every post queued before it (FIFO per activation).
        var count = await grain.InvokeAsync(static g => new ValueTask<long>(g.Count));

        Assert.Equal(Tasks * PerTask, count);
        Assert.Equal(1, grain.Read(static g => g.MaxConcurrentTurns));
        // Every increment and the final read turn were turns.
        Assert.Equal(Tasks * PerTask + 1, fixture.Runtime.GetStatistics().TurnsExecuted);
    }

    [Fact]
    public async Task Read_WhileWriteTurnBlocked_InterleavesAndWritesStayQueued()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocked = grain.InvokeAsync(g => g.SetAndBlockAsync(100, started, release.Task)).AsTask();
        await started.Task;
        var queued = RuntimeFixture.IncrementAsync(grain).AsTask();

        // Reads run while the write turn is suspended, and see what it wrote before blocking.
        Assert.Equal(100, grain.Read(static g => g.Count));
        Assert.Equal(100, grain.Read(5, static (g, add) => g.Count + add) - 5);
        Assert.Equal(100, await grain.ReadAsync(static g => new ValueTask<long>(g.Count)));
        Assert.False(blocked.IsCompleted);
        Assert.False(queued.IsCompleted);
        // The blocked turn and the increment behind it.
        Assert.Equal(2, grain.QueueLength);

        release.SetResult();
        Assert.Equal(100, await blocked);
        Assert.Equal(101, await queued);
        Assert.Equal(0, grain.QueueLength);
        Assert.Equal(1, grain.Read(static g => g.MaxConcurrentTurns));
    }

    [Fact]
    public async Task CollectIdle_AfterIdleTimeout_PersistsStateAndRemovesActivation()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(3);
        for (var i = 0; i < 3; i++)
        {
            await RuntimeFixture.IncrementAsync(grain);
        }

        fixture.Time.Advance(RuntimeFixture.IdleTimeout - TimeSpan.FromTicks(1));
        Assert.Equal(0, await fixture.Runtime.CollectIdleAsync());
        Assert.True(grain.IsActive);
        Assert.Equal(0, fixture.Memory.Writes);

        fixture.Time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, await fixture.Runtime.CollectIdleAsync());
        Assert.False(grain.IsActive);
        Assert.Equal(0, fixture.Runtime.ActivationDirectorySize);
        Assert.Equal(1, fixture.Memory.Writes);
        Assert.Equal(3, await fixture.StoredCountAsync(3));
        Assert.Equal([DeactivationReasonCode.ActivationIdle], fixture.Probe.Reasons);
        var statistics = fixture.Runtime.GetStatistics();
        Assert.Equal(0, statistics.ActivationCount);
        Assert.Equal(1, statistics.Deactivations);
        Assert.Equal(3, statistics.TurnsExecuted);
    }

    [Fact]
    public async Task CollectIdle_ReadKeepsActivationAlive_UntilIdleSinceRead()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(3);
        await RuntimeFixture.IncrementAsync(grain);

        fixture.Time.Advance(RuntimeFixture.IdleTimeout - TimeSpan.FromMinutes(1));
        Assert.Equal(1, grain.Read(static g => g.Count));
        // Idle since the write, but this pass is the first to see the read: it counts as a use now.
        fixture.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, await fixture.Runtime.CollectIdleAsync());

        // Idle for one tick less than the timeout since that pass.
        fixture.Time.Advance(RuntimeFixture.IdleTimeout - TimeSpan.FromTicks(1));
        Assert.Equal(0, await fixture.Runtime.CollectIdleAsync());
        fixture.Time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, await fixture.Runtime.CollectIdleAsync());
    }

    [Fact]
    public async Task Call_AfterIdleDeactivation_ReactivatesWithSameState()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(5);
        for (var i = 0; i < 4; i++)
        {
            await RuntimeFixture.IncrementAsync(grain);
        }

        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(1, await fixture.Runtime.CollectIdleAsync());

        // A synchronous read of an inactive grain activates it from storage.
        Assert.Equal(4, grain.Read(static g => g.Count));
        Assert.Equal(2, fixture.Memory.Reads);
        Assert.Equal(2, fixture.Probe.Activations);
        Assert.Equal(5, await RuntimeFixture.IncrementAsync(grain));
        Assert.Equal(2, fixture.Runtime.GetStatistics().ActivationsCreated);
    }

    [Fact]
    public async Task CollectIdle_ReadOnlyActivation_DoesNotWriteState()
    {
        await using var fixture = new RuntimeFixture();
        var id = new GrainId("counter", 9);
        await fixture.Storage.WriteStateAsync(id, new GrainState<CounterState>(new CounterState { Count = 8 }), CancellationToken.None);
        var grain = fixture.Counter(9);

        Assert.Equal(8, await grain.ReadAsync(static g => new ValueTask<long>(g.Count)));
        // Reads are noticed by the first pass after them; idleness counts from that pass.
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(0, await fixture.Runtime.CollectIdleAsync());
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(1, await fixture.Runtime.CollectIdleAsync());

        // Only the seeding write: reads do not make the state dirty.
        Assert.Equal(1, fixture.Memory.Writes);
    }

    [Fact]
    public async Task CollectIdle_ReadInFlightOnStripedGrain_NotCollectedUntilItEnds()
    {
        var time = new ManualTimeProvider();
        var runtime = new GrainRuntime(new MemoryGrainStorage(), new GrainRuntimeOptions { IdleTimeout = RuntimeFixture.IdleTimeout }, time);
        runtime.RegisterGrainType(_ => new CounterGrain(new GrainProbe()), new GrainTypeOptions { Name = "counter", ReadStripes = 8 });
        var grain = runtime.GetGrain<CounterGrain>(1);
        await RuntimeFixture.IncrementAsync(grain);

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var read = grain.ReadAsync(release.Task, static async (g, gate) =>
        {
            await gate;
            return g.Count;
        }).AsTask();
        for (var pass = 0; pass < 3; pass++)
        {
            time.Advance(RuntimeFixture.IdleTimeout);
            Assert.Equal(0, await runtime.CollectIdleAsync());
        }

        release.SetResult();
        Assert.Equal(1, await read);
        // No read since the first pass noticed this one, three timeouts ago.
        Assert.Equal(1, await runtime.CollectIdleAsync());
        await runtime.StopAsync();
    }

    [Fact]
    public async Task Calls_ArrivingDuringDeactivation_WaitAndRunOnReactivatedState()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(2);
        await RuntimeFixture.IncrementAsync(grain);
        await RuntimeFixture.IncrementAsync(grain);

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.Probe.DeactivationGate = gate.Task;
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        var collection = fixture.Runtime.CollectIdleAsync();
        await fixture.Probe.DeactivationStarted.Task;

        // Deactivation is now inside OnDeactivateAsync: every kind of call must wait, none may be lost.
        var invoke = RuntimeFixture.IncrementAsync(grain).AsTask();
        grain.Post(0, static (g, _) => g.Increment());
        var postAsync = grain.PostAsync(0, static (g, _) =>
        {
            g.Increment();
            return ValueTask.CompletedTask;
        }).AsTask();
        var read = grain.ReadAsync(static g => new ValueTask<long>(g.Count)).AsTask();
        Assert.False(invoke.IsCompleted);
        Assert.False(postAsync.IsCompleted);
        Assert.False(read.IsCompleted);

        fixture.Probe.DeactivationGate = null;
        gate.SetResult();
        Assert.Equal(1, await collection);
        await postAsync;

        // The calls ran on a new activation that read the persisted count 2 (order among them is not fixed).
        var first = await invoke;
        Assert.InRange(first, 3, 5);
        Assert.InRange(await read, 2, 5);
        var final = await grain.InvokeAsync(static g => new ValueTask<long>(g.Count));
        Assert.Equal(5, final);
        Assert.Equal(2, fixture.Probe.Activations);
        Assert.Equal(2, fixture.Memory.Reads);
    }

    [Fact]
    public async Task Increments_RacingRepeatedCollection_NoneLost()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(11);
        // With the clock far ahead every activation looks idle by time, so each pass tries to collect it and
        // must back off whenever a turn is queued or a read is in flight.
        fixture.Time.Advance(TimeSpan.FromDays(1));
        const int Tasks = 8, PerTask = 250;

        var workers = new Task[Tasks];
        for (var t = 0; t < Tasks; t++)
        {
            var useRead = t % 2 == 0;
            workers[t] = Task.Run(async () =>
            {
                for (var i = 0; i < PerTask; i++)
                {
                    await RuntimeFixture.IncrementAsync(grain);
                    if (useRead)
                    {
                        _ = grain.Read(static g => g.Count);
                    }

                    fixture.Time.Advance(RuntimeFixture.IdleTimeout);
                }
            });
        }

        var all = Task.WhenAll(workers);
        var passes = 0;
        // Bounded: at most 1,000,000 passes; the workers finish long before.
        while (!all.IsCompleted && passes < 1_000_000)
        {
            await fixture.Runtime.CollectIdleAsync();
            passes++;
        }

        await all;
        Assert.Equal(Tasks * PerTask, await grain.InvokeAsync(static g => new ValueTask<long>(g.Count)));
        var statistics = fixture.Runtime.GetStatistics();
        // Each activation read storage once. A deactivation writes at most once: only if a write turn ran on
        // that activation (one created by a read and collected before any write has nothing to write).
        Assert.Equal(statistics.ActivationsCreated, fixture.Memory.Reads);
        Assert.InRange(fixture.Memory.Writes, 0, statistics.Deactivations);
        Assert.Equal(Tasks * PerTask + 1, statistics.TurnsExecuted);
    }

    [Fact]
    public async Task InvokeAsync_TurnThrows_ExceptionPropagatesAndGrainKeepsWorking()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            async () => await grain.InvokeAsync(0, static (g, _) => new ValueTask<long>(g.Throw())));
        Assert.Equal("turn failed on purpose", error.Message);
        var asyncError = await Assert.ThrowsAsync<InvalidOperationException>(
            async () => await grain.InvokeAsync(static async ValueTask<long> (g) =>
            {
                await Task.Yield();
                return g.Throw();
            }));
        Assert.Equal("turn failed on purpose", asyncError.Message);

        Assert.Equal(2, await RuntimeFixture.IncrementAsync(grain));
        Assert.Equal(1, fixture.Probe.Activations);
        var statistics = fixture.Runtime.GetStatistics();
        Assert.Equal(4, statistics.TurnsExecuted);
        Assert.Equal(2, statistics.FailedTurns);
    }

    [Fact]
    public async Task Read_Throws_ExceptionPropagatesToReader()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);

        Assert.Throws<InvalidOperationException>(() => grain.Read(static g => g.Throw()));

        // The failed read left no read in flight: the activation can still be collected (the first pass
        // only notices the read, idleness counts from it).
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(0, await fixture.Runtime.CollectIdleAsync());
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(1, await fixture.Runtime.CollectIdleAsync());
    }

    [Fact]
    public async Task Post_TurnThrows_FailureCountedAndLogged()
    {
        var logger = new CapturingLogger<GrainRuntime>();
        await using var fixture = new RuntimeFixture(logger: logger);
        var grain = fixture.Counter(1);

        grain.Post(static g => g.Throw());
        grain.Post(0, static (g, _) => g.Increment());
        Assert.Equal(1, await grain.InvokeAsync(static g => new ValueTask<long>(g.Count)));

        var statistics = fixture.Runtime.GetStatistics();
        Assert.Equal(3, statistics.TurnsExecuted);
        Assert.Equal(1, statistics.FailedTurns);
        var failures = logger.Entries.Where(e => e.Id.Id == 1120).ToList();
        Assert.Single(failures);
        Assert.IsType<InvalidOperationException>(failures[0].Exception);
    }

    [Fact]
    public async Task InvokeAsync_ActivationThrows_CallFailsAndNextCallActivates()
    {
        await using var fixture = new RuntimeFixture();
        fixture.Probe.FailActivations = 1;
        var grain = fixture.Counter(1);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await RuntimeFixture.IncrementAsync(grain));
        Assert.Equal("activation failed on purpose", error.Message);
        Assert.False(grain.IsActive);

        Assert.Equal(1, await RuntimeFixture.IncrementAsync(grain));
        var statistics = fixture.Runtime.GetStatistics();
        Assert.Equal(1, statistics.ActivationFailures);
        Assert.Equal(1, statistics.ActivationsCreated);
        // The failed call never ran but counts as a failed turn; the second call is the one executed turn.
        Assert.Equal(1, statistics.FailedTurns);
        Assert.Equal(1, statistics.TurnsExecuted);
    }

    [Fact]
    public async Task DeactivateOnIdle_AfterTurn_DeactivatesWithApplicationRequested()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);

        await grain.InvokeAsync(static g =>
        {
            g.RequestDeactivation();
            return ValueTask.CompletedTask;
        });
        await fixture.Probe.Deactivated.Task;

        Assert.Equal([DeactivationReasonCode.ApplicationRequested], fixture.Probe.Reasons);
        Assert.Equal(1, await fixture.StoredCountAsync(1));
    }

    [Fact]
    public async Task WriteStateAsync_InTurn_PersistsAndLaterDeactivationSkipsCleanState()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);
        await grain.InvokeAsync(static g => g.SaveAsync());
        Assert.Equal(1, fixture.Memory.Writes);
        Assert.Equal(1, await fixture.StoredCountAsync(1));

        // The turn that saved marked the state clean: deactivation has nothing to write.
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(1, await fixture.Runtime.CollectIdleAsync());
        Assert.Equal(1, fixture.Memory.Writes);
    }

    [Fact]
    public async Task ClearStateAsync_InTurn_DeletesRecordAndResetsState()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);
        await grain.InvokeAsync(static g => g.SaveAsync());

        await grain.InvokeAsync(static g => g.ClearAsync());

        Assert.Equal(0, grain.Read(static g => g.Count));
        Assert.Equal(-1, await fixture.StoredCountAsync(1));
        // Deactivation (two passes: the first notices the read) has nothing to write: the clear was the last change.
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(0, await fixture.Runtime.CollectIdleAsync());
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        Assert.Equal(1, await fixture.Runtime.CollectIdleAsync());
        Assert.Equal(-1, await fixture.StoredCountAsync(1));
    }

    [Fact]
    public async Task StopAsync_ActiveGrains_PersistsAllAndRefusesNewActivations()
    {
        var fixture = new RuntimeFixture();
        for (var key = 1; key <= 5; key++)
        {
            for (var i = 0; i < key; i++)
            {
                await RuntimeFixture.IncrementAsync(fixture.Counter(key));
            }
        }

        Assert.Equal("echo-key:hi", fixture.Runtime.GetGrain<EchoGrain>("echo-key").Read("hi", static (g, t) => g.Echo(t)));

        await fixture.Runtime.StopAsync();

        for (var key = 1; key <= 5; key++)
        {
            Assert.Equal(key, await fixture.StoredCountAsync(key));
        }

        Assert.Equal(0, fixture.Runtime.ActivationDirectorySize);
        Assert.Equal(5, fixture.Memory.Count);
        Assert.Equal(6, fixture.Runtime.GetStatistics().Deactivations);
        Assert.Equal(Enumerable.Repeat(DeactivationReasonCode.ShuttingDown, 5), fixture.Probe.Reasons);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await RuntimeFixture.IncrementAsync(fixture.Counter(1)));
        // Idempotent.
        await fixture.Runtime.StopAsync();
    }

    [Fact]
    public async Task StopAsync_TurnQueued_WaitsForItThenPersists()
    {
        var fixture = new RuntimeFixture();
        var grain = fixture.Counter(1);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocked = grain.InvokeAsync(g => g.SetAndBlockAsync(10, started, release.Task)).AsTask();
        await started.Task;
        grain.Post(0, static (g, _) => g.Increment());

        var stop = fixture.Runtime.StopAsync();
        Assert.False(stop.IsCompleted);
        release.SetResult();
        await stop;

        Assert.Equal(10, await blocked);
        Assert.Equal(11, await fixture.StoredCountAsync(1));
    }

    [Fact]
    public async Task Start_TimerFires_CollectsIdleActivations()
    {
        await using var fixture = new RuntimeFixture(collectionInterval: TimeSpan.FromMinutes(1));
        fixture.Runtime.Start();
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);

        // Ten one-minute ticks; the tenth sees the activation idle for exactly IdleTimeout.
        fixture.Time.Advance(RuntimeFixture.IdleTimeout);
        await fixture.Probe.Deactivated.Task;

        Assert.Equal(1, await fixture.StoredCountAsync(1));
    }

    [Fact]
    public void GetGrain_UnregisteredType_Throws()
    {
        var runtime = new GrainRuntime(new MemoryGrainStorage());
        Assert.Throws<InvalidOperationException>(() => runtime.GetGrain<EchoGrain>(1));
    }

    [Fact]
    public void RegisterGrainType_DuplicateName_Throws()
    {
        var runtime = new GrainRuntime(new MemoryGrainStorage());
        runtime.RegisterGrainType(_ => new EchoGrain(), new GrainTypeOptions { Name = "x" });
        Assert.Throws<InvalidOperationException>(() =>
            runtime.RegisterGrainType(_ => new CounterGrain(new GrainProbe()), new GrainTypeOptions { Name = "x" }));
    }

    [Fact]
    public void GrainKey_LongAndStringOfSameText_AreDifferent()
    {
        Assert.NotEqual(GrainKey.FromLong(5), GrainKey.FromString("5"));
        Assert.Equal(GrainKey.FromString("a"), GrainKey.FromString(new string('a', 1)));
        Assert.Equal("counter/5", new GrainId("counter", 5).ToString());
    }

    [Fact]
    public async Task Read_ActiveGrainWithStaticLambda_AllocatesNothing()
    {
        await using var fixture = new RuntimeFixture();
        var grain = fixture.Counter(1);
        await RuntimeFixture.IncrementAsync(grain);
        long sum = 0;
        // Same call site for warm-up and measurement: each static lambda is a delegate cached on first use.
        long ReadMany(int count)
        {
            long total = 0;
            for (var i = 0; i < count; i++)
            {
                total += fixture.Runtime.GetGrain<CounterGrain>(1).Read(i, static (g, x) => g.Count + x);
            }

            return total;
        }

        sum += ReadMany(100);
        var before = GC.GetAllocatedBytesForCurrentThread();
        sum += ReadMany(10_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        // sum = 100 * 1 + (0 + ... + 99) + 10,000 * 1 + (0 + ... + 9,999).
        Assert.Equal(100 + 4950 + 10_000 + 49_995_000, sum);
    }
}
