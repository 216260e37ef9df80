using OpenMoE.Bench.Gemm;
using OpenMoE.Bench.Training;

return args.Length > 0 && args[0] == "gemm" ? GemmBench.Run(args[1..])
    : args.Length > 0 && args[0] == "training" ? TrainingBench.Run(args[1..])
    : 0;
