using AdCtr.Server.Hosting;

return await AdCtrServer.RunAsync(args);
