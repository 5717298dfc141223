using AdCtr.Server.Hosting;

AdCtrServer.Build(args).Run();
