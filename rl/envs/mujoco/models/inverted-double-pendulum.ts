/**
 * InvertedDoublePendulum-v5's body, from Gymnasium 1.3.0's
 * `gymnasium/envs/mujoco/assets/inverted_double_pendulum.xml` (the asset
 * `inverted_double_pendulum_v5.py` loads): the same compiler settings, defaults, option (RK4, 10 ms,
 * gravity with its 1e-5 along x), bodies, joints, geoms, the `tip` site and the actuator. Left out, as
 * they change no number of the simulation: geom colours, the `frame_skip` custom numeric (v5 uses its
 * own argument, 5) and the legacy `nstack` (the arena's size: MuJoCo sizes it from the model).
 */
export const INVERTED_DOUBLE_PENDULUM_XML = `<mujoco model="cartpole">
  <compiler coordinate="local" inertiafromgeom="true"/>
  <default>
    <joint damping="0.05"/>
    <geom contype="0" friction="1 0.1 0.1"/>
  </default>
  <option gravity="1e-5 0 -9.81" integrator="RK4" timestep="0.01"/>
  <worldbody>
    <geom name="floor" pos="0 0 -3.0" size="40 40 40" type="plane"/>
    <geom name="rail" pos="0 0 0" quat="0.707 0 0.707 0" size="0.02 1" type="capsule"/>
    <body name="cart" pos="0 0 0">
      <joint axis="1 0 0" limited="true" margin="0.01" name="slider" pos="0 0 0" range="-1 1" type="slide"/>
      <geom name="cart" pos="0 0 0" quat="0.707 0 0.707 0" size="0.1 0.1" type="capsule"/>
      <body name="pole" pos="0 0 0">
        <joint axis="0 1 0" name="hinge" pos="0 0 0" type="hinge"/>
        <geom fromto="0 0 0 0 0 0.6" name="cpole" size="0.045 0.3" type="capsule"/>
        <body name="pole2" pos="0 0 0.6">
          <joint axis="0 1 0" name="hinge2" pos="0 0 0" type="hinge"/>
          <geom fromto="0 0 0 0 0 0.6" name="cpole2" size="0.045 0.3" type="capsule"/>
          <site name="tip" pos="0 0 .6" size="0.01 0.01"/>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor ctrllimited="true" ctrlrange="-1 1" gear="500" joint="slider" name="slide"/>
  </actuator>
</mujoco>
`;
