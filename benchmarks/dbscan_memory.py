"""Peak memory and CPU time of scikit-learn DBSCAN vs grid_dbscan on N collapsed localisations.

90 % of the points in clusters of 500 collapsed to a 2 nm Gaussian, 10 % uniform noise,
eps=16, min_samples=10. Run each in its own process:

    OMP_NUM_THREADS=1 python benchmarks/dbscan_memory.py grid 1000000
    OMP_NUM_THREADS=1 python benchmarks/dbscan_memory.py sklearn 1000000
"""
import sys, time, resource, numpy as np
which=sys.argv[1]; n=int(sys.argv[2])
rng=np.random.default_rng(0)
nc=int(n*0.9)//500
centres=rng.uniform(0,np.sqrt(n)*50,(nc,2))
X=np.concatenate([np.repeat(centres,500,0)+rng.normal(0,2,(nc*500,2)), rng.uniform(0,np.sqrt(n)*50,(n-nc*500,2))])
base=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t=time.perf_counter(); c=time.process_time()
if which=='sklearn':
    from sklearn.cluster import DBSCAN
    lab=DBSCAN(eps=16,min_samples=10).fit_predict(X)
else:
    from sklearn_miro.grid_dbscan import grid_dbscan
    lab=grid_dbscan(X,16,10)[0]
print(which,n,'wall %.1f cpu %.1f peakRSS %.0f MB (data %.0f MB) clusters %d'%(time.perf_counter()-t,time.process_time()-c,resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024, base/1024, lab.max()+1),flush=True)
